"""Account queries; a user's API keys, login sessions and organisations are scoped here only.

`owned_api_key` is the one scoping rule of the domain: another user's key answers NotFound,
exactly as an unknown one does. Tokens are looked up by their digest, never by the secret.
"""

from __future__ import annotations

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


def api_keys_of(session: Session, user: User) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.user_id == persisted_id(user))))


def owned_api_key(session: Session, user: User, key_id: int) -> ApiKey:
    """One of the user's keys; another user's key id answers NotFound."""
    key = session.get(ApiKey, key_id)
    if key is None or key.user_id != persisted_id(user):
        raise NotFound(f"API key {key_id} not found")
    return key


def api_key_by_digest(session: Session, digest: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()


def login_session_by_digest(session: Session, digest: str) -> LoginSession | None:
    return session.exec(select(LoginSession).where(LoginSession.token_hash == digest)).first()
