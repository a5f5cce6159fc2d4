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
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlmodel import Session

from registry.accounts import repository
from registry.errors import BadRequest, Conflict, Forbidden, TooManyRequests, Unavailable
from registry.messages import N_, Message
from registry.models import EmailVerification, User, persisted_id, utcnow
from registry.notifications.mail import Mailer, Translate, compose, in_english, send_after_commit

LINK_LIFETIME = timedelta(days=2)
# A new link at most once a minute and five a day per account: enough for a lost message, too
# few to turn the resend button into a way of flooding someone's mailbox.
RESEND_INTERVAL = timedelta(minutes=1)
LINKS_PER_DAY = 5
VERIFY_PATH = "/verify-email"


class EmailNotVerified(Forbidden):
    code = "email_not_verified"


class VerificationLinkInvalid(BadRequest):
    code = "verification_link_invalid"


class EmailDisabled(Unavailable):
    code = "email_disabled"


@dataclass(frozen=True)
class VerificationMail:
    """How account links (verification, password reset) go out: the configured SMTP mailer
    (None while email is off), the site, and the catalogs that write them in each person's
    language."""

    mailer: Mailer | None
    base_url: str
    translate: Translate = in_english


def require_verified_email(user: User, action: str) -> None:
    """Refuse `action` (words like "consent to a contract", marked `N_`) until the user verified
    the email."""
    if user.email_verified:
        return
    raise EmailNotVerified(
        N_(
            "Verify your email address first: before this account can %(action)s, open the link "
            "we sent to %(email)s. No message? Ask for a new one with "
            "POST /api/v1/me/email-verification (or the button on your account page)."
        ),
        action=Message(action),
        email=user.email,
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
        raise Conflict(
            N_("%(email)s is already verified: there is nothing to confirm."), email=user.email
        )
    if mail.mailer is None:
        raise EmailDisabled(
            N_(
                "This server sends no email (no SMTP server is configured), so it cannot send a "
                "verification link: ask its operator."
            )
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
    _ = mail.translate(user.locale)
    send_after_commit(session, mail.mailer, _message(user.email, token, mail.base_url, _))


def _check_resend_budget(session: Session, user: User, now: datetime) -> None:
    recent = repository.verification_links_sent_since(session, user, now - timedelta(days=1))
    if recent and max(recent) > now - RESEND_INTERVAL:
        wait = max(recent) + RESEND_INTERVAL - now
        raise TooManyRequests(
            N_(
                "A verification link was sent less than a minute ago: check your inbox (and "
                "spam folder) before asking for another."
            ),
            int(wait.total_seconds()) + 1,
        )
    if len(recent) >= LINKS_PER_DAY:
        wait = min(recent) + timedelta(days=1) - now
        raise TooManyRequests(
            N_(
                "%(count)s verification links were sent to this address in the last day: use "
                "one of those, or try again tomorrow."
            ),
            int(wait.total_seconds()) + 1,
            count=LINKS_PER_DAY,
        )


def _message(recipient: str, token: str, base_url: str, _: Callable[[str], str]) -> EmailMessage:
    link = f"{base_url.rstrip('/')}{VERIFY_PATH}?token={token}"
    text = "\n\n".join(
        (
            _("Someone, probably you, created a Copymark account with this email address."),
            _("To confirm that the address is yours, open this link within two days:"),
            link,
            _(
                "Until then the account cannot consent to contracts or own an organisation. If "
                "this was not you, ignore this message: nothing is confirmed without it."
            ),
        )
    )
    return compose(recipient, _("Copymark: confirm your email address"), text + "\n")


def confirm_email(session: Session, token: str, *, now: datetime | None = None) -> User:
    """Mark the account whose link carries `token` verified; the link is spent.

    Every refusal says the same thing whatever the reason (unknown, used, expired, or sent to
    an address the account no longer has), so a link says nothing about other accounts.
    """
    moment = now or utcnow()
    invalid = VerificationLinkInvalid(
        N_(
            "This verification link is not valid: it may have been used already, have expired "
            "(links last two days) or been copied incompletely. Sign in and ask for a new one."
        )
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
