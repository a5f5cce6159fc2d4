"""A forgotten password is replaced through a link mailed to the account's address: the link is
single-use, expires, and asking for one tells nobody whether an address has an account.

- Every request answers the same, for a known address or not: the caller shows one sentence.
  The mail goes out on its own thread after commit, so timing says nothing either.
- The link carries a 256-bit random token; only its SHA-256 is stored. It is good for
  LINK_LIFETIME, once, and only while the account still has the address it was mailed to; using
  it spends every other open link of the account and ends every login session (whoever knew the
  old password is signed out). Receiving it proves the address, so it also verifies it.
- Budgets: a client may ask RESETS_PER_CLIENT times per CLIENT_WINDOW (429, whatever the
  address); an account is mailed at most one link per RESEND_INTERVAL and LINKS_PER_DAY a day,
  and past that the request is answered as any other and nothing is sent, so a flood fills no
  mailbox and the budget says nothing about the account.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlmodel import Session

from registry.accounts import repository
from registry.accounts.passwords import check_new_password
from registry.accounts.service import find_user_by_email, hash_password
from registry.accounts.verification import EmailDisabled, VerificationMail
from registry.errors import BadRequest, TooManyRequests
from registry.messages import N_
from registry.models import PasswordReset, User, persisted_id, utcnow
from registry.notifications.mail import compose, send_after_commit

LINK_LIFETIME = timedelta(hours=1)
RESEND_INTERVAL = timedelta(minutes=1)
LINKS_PER_DAY = 5
RESETS_PER_CLIENT = 10
CLIENT_WINDOW = timedelta(hours=1)
RESET_PATH = "/password/reset"
MAX_TOKEN_LENGTH = 100


class ResetLinkInvalid(BadRequest):
    code = "password_reset_link_invalid"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def request_password_reset(
    session: Session,
    mail: VerificationMail,
    *,
    email: str,
    client: str,
    now: datetime | None = None,
) -> None:
    """Mail a reset link to the account with `email`, if there is one, once `session` commits.

    Returns nothing either way. Raises EmailDisabled when this server sends no email and
    TooManyRequests when `client` (the requester's network address) spent its budget.
    """
    moment = now or utcnow()
    if mail.mailer is None:
        raise EmailDisabled(
            N_(
                "This server sends no email (no SMTP server is configured), so it cannot send a "
                "password reset link: ask its operator to reset your password."
            )
        )
    requester = _digest(client)
    asked = repository.password_resets_requested_by(session, requester, moment - CLIENT_WINDOW)
    if asked >= RESETS_PER_CLIENT:
        raise TooManyRequests(
            N_(
                "Too many password resets were asked for from your network address: try again "
                "in an hour."
            ),
            int(CLIENT_WINDOW.total_seconds()),
        )
    user = find_user_by_email(session, email)
    request = PasswordReset(
        email="",  # an address with no account is not kept
        requester_key=requester,
        created_at=moment,
        expires_at=moment + LINK_LIFETIME,
    )
    if user is None or not _may_mail(session, user, moment):
        session.add(request)
        session.flush()
        return
    token = secrets.token_urlsafe(32)
    request.user_id = persisted_id(user)
    request.email = user.email
    request.token_hash = _digest(token)
    session.add(request)
    session.flush()
    _ = mail.translate(user.locale)
    send_after_commit(session, mail.mailer, _message(user.email, token, mail.base_url, _))


def _may_mail(session: Session, user: User, now: datetime) -> bool:
    sent = repository.password_links_sent_since(session, user, now - timedelta(days=1))
    return len(sent) < LINKS_PER_DAY and not any(moment > now - RESEND_INTERVAL for moment in sent)


def _message(recipient: str, token: str, base_url: str, _: Callable[[str], str]) -> EmailMessage:
    link = f"{base_url.rstrip('/')}{RESET_PATH}?token={token}"
    text = "\n\n".join(
        (
            _("Someone, probably you, asked to reset the password of your Copymark account."),
            _("To choose a new password, open this link within an hour:"),
            link,
            _(
                "The link works once. If you did not ask for it, ignore this message: your "
                "password stays as it is."
            ),
        )
    )
    return compose(recipient, _("Copymark: reset your password"), text + "\n")


def _invalid() -> ResetLinkInvalid:
    # One message for every reason, so a link says nothing about other accounts.
    return ResetLinkInvalid(
        N_(
            "This password reset link is not valid: it may have been used already, have "
            "expired (links last an hour) or been copied incompletely. Ask for a new one."
        )
    )


def reset_link_user(session: Session, token: str, *, now: datetime | None = None) -> User:
    """The account a reset link may reset, without spending it; ResetLinkInvalid otherwise."""
    moment = now or utcnow()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    link = repository.password_reset_by_digest(session, _digest(token))
    if link is None or link.user_id is None or link.used_at is not None:
        raise _invalid()
    if link.expires_at <= moment:
        raise _invalid()
    user = repository.user_by_id(session, link.user_id)
    if user is None or user.email != link.email:
        raise _invalid()
    return user


def reset_password(
    session: Session, token: str, new_password: str, *, now: datetime | None = None
) -> User:
    """Set the password of the account a valid link names; the link and its siblings are spent.

    Every login session of the account ends, and the address counts as verified (the link
    reached it). A weak new password is refused (WeakPassword) and the link stays good.
    """
    moment = now or utcnow()
    user = reset_link_user(session, token, now=moment)
    check_new_password(new_password)
    for link in repository.open_password_resets_of(session, user):
        link.used_at = moment
        session.add(link)
    user.password_hash = hash_password(new_password)
    if user.email_verified_at is None:
        user.email_verified_at = moment
    session.add(user)
    repository.delete_login_sessions_of(session, user)
    session.flush()
    return user
