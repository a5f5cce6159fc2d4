"""Accounts: sign-up rules, password checks, API keys and login sessions."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.accounts import (
    authenticate,
    create_api_key,
    create_user,
    end_login_session,
    start_login_session,
    user_for_api_key,
    user_for_login_session,
)
from registry.errors import Conflict, CopymarkError, Unauthorized
from registry.models import ApiKey, Role, utcnow


def test_emails_are_normalised_and_unique(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        user = create_user(session, email="  Ada@Example.COM ", password="long enough")
        assert user.email == "ada@example.com"
        with pytest.raises(Conflict, match="already exists"):
            create_user(session, email="ada@example.com", password="long enough")


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@nodot", "a b@example.com", "@example.com"])
def test_malformed_emails_are_refused(db_engine: Engine, email: str) -> None:
    with Session(db_engine) as session, pytest.raises(CopymarkError, match="valid email"):
        create_user(session, email=email, password="long enough")


def test_short_passwords_are_refused(db_engine: Engine) -> None:
    with Session(db_engine) as session, pytest.raises(CopymarkError, match="8 characters"):
        create_user(session, email="a@example.com", password="short")


def test_wrong_password_and_unknown_email_fail_alike(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        create_user(session, email="a@example.com", password="right password", roles={Role.BRAND})
        with pytest.raises(Unauthorized) as wrong:
            authenticate(session, "a@example.com", "wrong password")
        with pytest.raises(Unauthorized) as unknown:
            authenticate(session, "nobody@example.com", "right password")
        assert str(wrong.value) == str(unknown.value)
        assert authenticate(session, "A@example.com", "right password").roles == ["brand"]


def test_api_keys_are_stored_hashed_and_can_be_revoked(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        user = create_user(session, email="a@example.com", password="long enough")
        token = create_api_key(session, user, "ci")
        stored = session.query(ApiKey).one()
        assert token not in (stored.key_hash, stored.prefix + stored.key_hash)
        assert user_for_api_key(session, token).id == user.id
        stored.revoked_at = utcnow()
        session.add(stored)
        session.flush()
        with pytest.raises(Unauthorized, match="revoked"):
            user_for_api_key(session, token)


@pytest.mark.parametrize("token", ["", "cmk_", "cmk_" + "A" * 43, "sk_live_abc", "cmk_' OR 1=1 --"])
def test_forged_api_keys_are_refused(db_engine: Engine, token: str) -> None:
    with Session(db_engine) as session, pytest.raises(Unauthorized):
        user_for_api_key(session, token)


def test_login_sessions_end(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        user = create_user(session, email="a@example.com", password="long enough")
        token = start_login_session(session, user)
        found = user_for_login_session(session, token)
        assert found is not None
        assert found.id == user.id
        end_login_session(session, token)
        session.flush()
        assert user_for_login_session(session, token) is None
        assert user_for_login_session(session, "made-up") is None
