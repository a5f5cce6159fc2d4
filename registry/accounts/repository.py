"""Account queries; which API keys a user may see or revoke is decided here only.

The one scoping rule of the domain is `_own_keys`: a user acts on their own API keys, and
another user's key answers NotFound, exactly as an unknown one does. Tokens are looked up by
their digest, never by the secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, delete
from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.messages import N_
from registry.models import (
    ApiKey,
    EmailVerification,
    LoginSession,
    Membership,
    Organisation,
    PasswordReset,
    User,
    persisted_id,
)


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_by_email(session: Session, address: str) -> User | None:
    """The user with this normalised email address."""
    return session.exec(select(User).where(User.email == address)).first()


def organisations_of(session: Session, user: User) -> list[Organisation]:
    return list(
        session.exec(
            select(Organisation)
            .join(Membership, col(Membership.organisation_id) == Organisation.id)
            .where(Membership.user_id == persisted_id(user))
        )
    )


def administered_organisation(session: Session, user: User, organisation_id: int) -> Organisation:
    """One organisation the user administers; any other id answers NotFound, as an unknown one."""
    organisation = session.exec(
        select(Organisation)
        .join(Membership, col(Membership.organisation_id) == Organisation.id)
        .where(
            Organisation.id == organisation_id,
            Membership.user_id == persisted_id(user),
            col(Membership.is_admin).is_(True),
        )
    ).first()
    if organisation is None:
        raise NotFound(N_("organisation %(organisation)s not found"), organisation=organisation_id)
    return organisation


def organisation_with_verified_domain(session: Session, domain: str) -> Organisation | None:
    return session.exec(
        select(Organisation).where(
            Organisation.domain == domain, col(Organisation.domain_verified_at).is_not(None)
        )
    ).first()


def _own_keys(user: User) -> ColumnElement[bool]:
    return col(ApiKey.user_id) == persisted_id(user)


def api_keys_of(session: Session, user: User) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(_own_keys(user))))


def owned_api_key(session: Session, user: User, key_id: int) -> ApiKey:
    """One of the user's keys; another user's key id answers NotFound."""
    key = session.exec(select(ApiKey).where(ApiKey.id == key_id, _own_keys(user))).first()
    if key is None:
        raise NotFound(N_("API key %(key)s not found"), key=key_id)
    return key


def api_key_by_digest(session: Session, digest: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()


def login_session_by_digest(session: Session, digest: str) -> LoginSession | None:
    return session.exec(select(LoginSession).where(LoginSession.token_hash == digest)).first()


# Built once: every page asks, and building the statement cost more than running it.
_USER_OF_LOGIN_SESSION = (
    select(User)
    .join(LoginSession, col(LoginSession.user_id) == col(User.id))
    .where(
        col(LoginSession.token_hash) == bindparam("digest"),
        col(LoginSession.expires_at) >= bindparam("now"),
    )
)


def user_of_login_session(session: Session, digest: str, now: datetime) -> User | None:
    """The user of the unexpired login session with this digest, in one query."""
    return session.exec(_USER_OF_LOGIN_SESSION, params={"digest": digest, "now": now}).first()


def delete_login_sessions_of(session: Session, user: User) -> int:
    """Delete every login session of the user; returns how many there were."""
    ended = session.exec(
        delete(LoginSession).where(col(LoginSession.user_id) == persisted_id(user))
    ).rowcount
    session.flush()
    return int(ended or 0)


def verification_links_sent_since(session: Session, user: User, since: datetime) -> list[datetime]:
    """When each verification link the user was sent after `since` was made."""
    return list(
        session.exec(
            select(EmailVerification.created_at).where(
                EmailVerification.user_id == persisted_id(user),
                col(EmailVerification.created_at) > since,
            )
        )
    )


def verification_link_by_digest(session: Session, digest: str) -> EmailVerification | None:
    return session.exec(
        select(EmailVerification).where(EmailVerification.token_hash == digest)
    ).first()


def password_resets_requested_by(session: Session, requester_key: str, since: datetime) -> int:
    """How many password resets one client asked for after `since`, for any address."""
    return len(
        session.exec(
            select(PasswordReset.id).where(
                PasswordReset.requester_key == requester_key,
                col(PasswordReset.created_at) > since,
            )
        ).all()
    )


def password_links_sent_since(session: Session, user: User, since: datetime) -> list[datetime]:
    """When each password reset link the user was mailed after `since` was made."""
    return list(
        session.exec(
            select(PasswordReset.created_at).where(
                PasswordReset.user_id == persisted_id(user),
                col(PasswordReset.token_hash).is_not(None),
                col(PasswordReset.created_at) > since,
            )
        )
    )


def password_reset_by_digest(session: Session, digest: str) -> PasswordReset | None:
    return session.exec(select(PasswordReset).where(PasswordReset.token_hash == digest)).first()


def open_password_resets_of(session: Session, user: User) -> list[PasswordReset]:
    """The user's mailed reset links not used yet (expired ones included)."""
    return list(
        session.exec(
            select(PasswordReset).where(
                PasswordReset.user_id == persisted_id(user),
                col(PasswordReset.token_hash).is_not(None),
                col(PasswordReset.used_at).is_(None),
            )
        )
    )
