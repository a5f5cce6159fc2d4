"""Account queries; which API keys a user may see or revoke is decided here only.

The one scoping rule of the domain is `_own_keys`: a user acts on their own API keys, and
another user's key answers NotFound, exactly as an unknown one does. Tokens are looked up by
their digest, never by the secret.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete
from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.models import ApiKey, LoginSession, Membership, Organisation, User, persisted_id


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


def _own_keys(user: User) -> ColumnElement[bool]:
    return col(ApiKey.user_id) == persisted_id(user)


def api_keys_of(session: Session, user: User) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(_own_keys(user))))


def owned_api_key(session: Session, user: User, key_id: int) -> ApiKey:
    """One of the user's keys; another user's key id answers NotFound."""
    key = session.exec(select(ApiKey).where(ApiKey.id == key_id, _own_keys(user))).first()
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


def api_key_by_digest(session: Session, digest: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()


def login_session_by_digest(session: Session, digest: str) -> LoginSession | None:
    return session.exec(select(LoginSession).where(LoginSession.token_hash == digest)).first()


def delete_login_sessions_of(session: Session, user: User) -> int:
    """Delete every login session of the user; returns how many there were."""
    ended = session.exec(
        delete(LoginSession).where(col(LoginSession.user_id) == persisted_id(user))
    ).rowcount
    session.flush()
    return int(ended or 0)
