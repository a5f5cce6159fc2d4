"""An account acts for its email address only once it proved it reads mail sent there.

Anyone may sign up with any address, so an unproven address is no evidence of who the person
is: a stranger signing up as a contract party's address must not consent for that party or own
an organisation. `require_verified_email` is the one gate those use cases call, and the one
settlement's payouts are to call.

The proof is a link carrying a 256-bit random token, mailed to the address; only the token's
SHA-256 is stored, so reading the database does not verify anyone, and the token never appears
in the in-app inbox (which the unproven account itself can read). A link is good for
LINK_LIFETIME, once, and only while the account still has the address it was sent to.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import event
from sqlmodel import Session

from registry.accounts import repository
from registry.errors import BadRequest, Conflict, Forbidden, TooManyRequests, Unavailable
from registry.models import EmailVerification, User, persisted_id, utcnow
from registry.notifications.mail import Mailer, compose

LINK_LIFETIME = timedelta(days=2)
# A new link at most once a minute and five a day per account: enough for a lost message, too
# few to turn the resend button into a way of flooding someone's mailbox.
RESEND_INTERVAL = timedelta(minutes=1)
LINKS_PER_DAY = 5
VERIFY_PATH = "/verify-email"

_logger = logging.getLogger(__name__)
_OUTGOING = "copymark.accounts.verification_mail"


class EmailNotVerified(Forbidden):
    code = "email_not_verified"


class VerificationLinkInvalid(BadRequest):
    code = "verification_link_invalid"


class EmailDisabled(Unavailable):
    code = "email_disabled"


@dataclass(frozen=True)
class VerificationMail:
    """How links go out: the configured SMTP mailer (None while email is off) and the site."""

    mailer: Mailer | None
    base_url: str


def require_verified_email(user: User, action: str) -> None:
    """Refuse `action` (words like "consent to a contract") until the user verified the email."""
    if user.email_verified:
        return
    raise EmailNotVerified(
        f"Verify your email address first: before this account can {action}, open the link we "
        f"sent to {user.email}. No message? Ask for a new one with "
        "POST /api/v1/me/email-verification (or the button on your account page)."
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_verification_link(
    session: Session, user: User, mail: VerificationMail, *, now: datetime | None = None
) -> None:
    """Mail the user a new verification link once `session` commits.

    Raises Conflict when the address is already verified, EmailDisabled when this server
    sends no email, and TooManyRequests within RESEND_INTERVAL of the last link or past
    LINKS_PER_DAY. Links sent earlier stay good until they expire.
    """
    moment = now or utcnow()
    if user.email_verified:
        raise Conflict(f"{user.email} is already verified: there is nothing to confirm.")
    if mail.mailer is None:
        raise EmailDisabled(
            "This server sends no email (no SMTP server is configured), so it cannot send a "
            "verification link: ask its operator."
        )
    _check_resend_budget(session, user, moment)
    token = secrets.token_urlsafe(32)
    session.add(
        EmailVerification(
            user_id=persisted_id(user),
            email=user.email,
            token_hash=_digest(token),
            created_at=moment,
            expires_at=moment + LINK_LIFETIME,
        )
    )
    session.flush()
    _send_after_commit(session, mail.mailer, _message(user.email, token, mail.base_url))


def _check_resend_budget(session: Session, user: User, now: datetime) -> None:
    recent = repository.verification_links_sent_since(session, user, now - timedelta(days=1))
    if recent and max(recent) > now - RESEND_INTERVAL:
        wait = max(recent) + RESEND_INTERVAL - now
        raise TooManyRequests(
            "A verification link was sent less than a minute ago: check your inbox (and spam "
            "folder) before asking for another.",
            int(wait.total_seconds()) + 1,
        )
    if len(recent) >= LINKS_PER_DAY:
        wait = min(recent) + timedelta(days=1) - now
        raise TooManyRequests(
            f"{LINKS_PER_DAY} verification links were sent to this address in the last day: "
            "use one of those, or try again tomorrow.",
            int(wait.total_seconds()) + 1,
        )


def _message(recipient: str, token: str, base_url: str) -> EmailMessage:
    link = f"{base_url.rstrip('/')}{VERIFY_PATH}?token={token}"
    text = (
        "Someone, probably you, created a Copymark account with this email address.\n\n"
        f"To confirm that the address is yours, open this link within two days:\n\n{link}\n\n"
        "Until then the account cannot consent to contracts or own an organisation. If this "
        "was not you, ignore this message: nothing is confirmed without it.\n"
    )
    return compose(recipient, "Copymark: confirm your email address", text)


def _send_after_commit(session: Session, mailer: Mailer, message: EmailMessage) -> None:
    """Hand `message` to the mailer once the session commits; nothing if it rolls back.

    The send runs on its own thread, so a request never waits on the mail server, and how long
    a sign-up takes says nothing about whether the address was new (only new ones get a link).
    A failed send is logged and costs the person one resend: the link row is already stored.
    """
    outgoing: list[tuple[Mailer, EmailMessage]] | None = session.info.get(_OUTGOING)
    if outgoing is None:
        outgoing = session.info[_OUTGOING] = []
        event.listen(session, "after_commit", _dispatch)
        event.listen(session, "after_rollback", _discard)
    outgoing.append((mailer, message))


def _dispatch(session: Session) -> None:
    outgoing: list[tuple[Mailer, EmailMessage]] = session.info.get(_OUTGOING, [])
    committed = list(outgoing)
    outgoing.clear()
    if committed:
        # Not a daemon: a CLI command that committed waits for its mail before the process exits.
        threading.Thread(
            target=_deliver, args=(committed,), name="copymark-verification-mail"
        ).start()


def _discard(session: Session) -> None:
    session.info.get(_OUTGOING, []).clear()


def _deliver(committed: list[tuple[Mailer, EmailMessage]]) -> None:
    for mailer, message in committed:
        try:
            mailer.send(message)
        except (OSError, smtplib.SMTPException) as error:
            _logger.warning("verification mail to %s not sent: %s", message["To"], error)


def confirm_email(session: Session, token: str, *, now: datetime | None = None) -> User:
    """Mark the account whose link carries `token` verified; the link is spent.

    Every refusal says the same thing whatever the reason (unknown, used, expired, or sent to
    an address the account no longer has), so a link says nothing about other accounts.
    """
    moment = now or utcnow()
    invalid = VerificationLinkInvalid(
        "This verification link is not valid: it may have been used already, have expired "
        "(links last two days) or been copied incompletely. Sign in and ask for a new one."
    )
    if not token or len(token) > 100:
        raise invalid
    link = repository.verification_link_by_digest(session, _digest(token))
    if link is None or link.used_at is not None or link.expires_at <= moment:
        raise invalid
    user = session.get(User, link.user_id)
    if user is None or user.email != link.email:
        raise invalid
    link.used_at = moment
    session.add(link)
    if user.email_verified_at is None:
        user.email_verified_at = moment
        session.add(user)
    session.flush()
    return user


def seed_verified_email(session: Session, user: User) -> None:
    """Mark a seeded account verified without mail: demo data (`make run`) and test worlds only.

    No endpoint or command a person can reach calls this; people verify by the emailed link.
    """
    user.email_verified_at = utcnow()
    session.add(user)
    session.flush()
