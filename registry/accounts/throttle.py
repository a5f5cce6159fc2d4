"""Sign-in throttling: in any sliding window, at most `per_account` failed sign-ins for one email
address and `per_address` from one client address; past either, sign-in answers 429 with the
seconds to wait, before any password is checked.

Design choices:

- The failures live in the database (`LoginFailure`), not in memory: the limit then holds across
  every uvicorn worker and restart, and for the page and the API alike, on SQLite and PostgreSQL.
  A failure costs one insert; a sign-in costs two indexed range reads.
- A sliding window over stored failures, not a token bucket: the wait it answers is exact (until
  the failure that filled the budget leaves the window) and needs no state beyond the rows.
- Only failures count, and nothing resets a budget early, a successful sign-in included: someone
  who owns one account cannot sign into it to refill the budget of the address they attack
  others from, and a person who mistypes a few times stays far below the limit.
- The account is keyed by the email as typed (normalised, then hashed), not by the user row: an
  unknown address is throttled exactly like a known one, so throttling tells nobody who has an
  account, and addresses people mistype are not stored.
- Refused attempts are not recorded: an attacker gets `per_account` guesses per window whatever
  they send, and the account's owner can sign in again once the window has moved on.
- The price is that someone who floods one account with wrong passwords locks its owner out of
  password sign-in for up to a window; sessions already open and API keys keep working.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete
from sqlmodel import Session, col, select

from registry.errors import TooManyRequests
from registry.messages import N_, Message
from registry.models import LoginFailure, utcnow

DEFAULT_WINDOW = timedelta(minutes=15)


def account_key(email: str) -> str:
    """The throttle's key for an email address: its normalised form, hashed."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _wait_words(seconds: int) -> Message:
    if seconds < 60:
        if seconds == 1:
            return Message(N_("1 second"))
        return Message(N_("%(count)s seconds"), {"count": seconds})
    minutes = math.ceil(seconds / 60)
    if minutes == 1:
        return Message(N_("1 minute"))
    return Message(N_("%(count)s minutes"), {"count": minutes})


@dataclass(frozen=True)
class LoginThrottle:
    per_account: int = 10
    per_address: int = 50
    window: timedelta = DEFAULT_WINDOW

    def check(
        self, session: Session, email: str, address: str, now: datetime | None = None
    ) -> None:
        """Raise TooManyRequests if either budget is spent; otherwise let the attempt through."""
        now = now or utcnow()
        account = self._wait(
            session, col(LoginFailure.account_key) == account_key(email), self.per_account, now
        )
        if account is not None:
            raise TooManyRequests(
                N_(
                    "Too many failed sign-ins for this account. For its safety, sign-in is "
                    "paused: try again in %(wait)s."
                ),
                account,
                wait=_wait_words(account),
            )
        here = self._wait(
            session, col(LoginFailure.client_address) == address, self.per_address, now
        )
        if here is not None:
            raise TooManyRequests(
                N_("Too many failed sign-ins from your network address. Try again in %(wait)s."),
                here,
                wait=_wait_words(here),
            )

    def record_failure(
        self, session: Session, email: str, address: str, now: datetime | None = None
    ) -> None:
        """Count one failed sign-in, and forget those that have left every window."""
        now = now or utcnow()
        session.exec(delete(LoginFailure).where(col(LoginFailure.failed_at) <= now - self.window))
        session.add(
            LoginFailure(account_key=account_key(email), client_address=address, failed_at=now)
        )
        session.flush()

    def _wait(
        self, session: Session, key: ColumnElement[bool], limit: int, now: datetime
    ) -> int | None:
        """Seconds until fewer than `limit` remain in the window, or None if they already do."""
        # The limit-th most recent failure in the window: once it leaves, one attempt is free.
        filling = session.exec(
            select(LoginFailure.failed_at)
            .where(key, col(LoginFailure.failed_at) > now - self.window)
            .order_by(col(LoginFailure.failed_at).desc())
            .offset(limit - 1)
            .limit(1)
        ).first()
        if filling is None:
            return None
        return max(1, math.ceil((filling + self.window - now).total_seconds()))
