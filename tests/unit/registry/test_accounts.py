"""Accounts: sign-up rules, password checks, API keys, login sessions and organisation domains."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.accounts import service as account_service
from registry.accounts.passwords import WeakPassword
from registry.accounts.repository import organisations_of
from registry.accounts.service import (
    InvalidEmail,
    authenticate,
    create_api_key,
    create_organisation,
    create_user,
    end_login_session,
    organisation_domain,
    self_assignable_roles,
    set_password_cost,
    sign_up,
    start_login_session,
    user_for_api_key,
    user_for_login_session,
)
from registry.errors import BadRequest, Conflict, Unauthorized
from registry.models import ApiKey, Role, User, utcnow


def test_emails_are_normalised_and_unique(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        user = create_user(session, email="  Ada@Example.COM ", password="long enough")
        assert user.email == "ada@example.com"
        with pytest.raises(Conflict, match="already exists"):
            create_user(session, email="ada@example.com", password="long enough")


@pytest.mark.parametrize(
    "email",
    [
        "",
        "no-at-sign",
        "a@nodot",
        "a b@example.com",
        "@example.com",
        "a@@b.c",
        "a@example.com,b@example.com",
        "a@example.com, b@example.com",
        "a@example.com;b@example.com",
        "a@exa mple.com",
        "a@.example.com",
        "a@example..com",
        "a@localhost",
    ],
)
def test_malformed_emails_are_refused(db_engine: Engine, email: str) -> None:
    with Session(db_engine) as session, pytest.raises(InvalidEmail, match="not a valid email"):
        create_user(session, email=email, password="long enough")
    assert InvalidEmail.status_code == 422


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "password",
        " " * 8,
        " " * 12,
        "\t\n" * 6,
        "password  ",
        "  passw0rd  ",
        "123456789",
    ],
)
def test_short_or_blank_passwords_are_refused(db_engine: Engine, password: str) -> None:
    with Session(db_engine) as session, pytest.raises(WeakPassword, match="at least 10 characters"):
        create_user(session, email="a@example.com", password=password)


@pytest.mark.parametrize("password", ["qwertyuiop", "1234567890", "Password123", " Manchester "])
def test_common_passwords_are_refused(db_engine: Engine, password: str) -> None:
    with Session(db_engine) as session, pytest.raises(WeakPassword, match="commonly used"):
        create_user(session, email="a@example.com", password=password)


def test_sign_up_answers_alike_for_a_taken_address(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        first = sign_up(session, email="ada@example.com", password="long enough", roles=set())
        assert first is not None
        again = sign_up(session, email=" ADA@example.com", password="other enough", roles=set())
        assert again is None
        # The existing account is untouched: its own password still signs in, the new one not.
        assert authenticate(session, "ada@example.com", "long enough").id == first.id
        with pytest.raises(Unauthorized):
            authenticate(session, "ada@example.com", "other enough")


def test_sign_up_still_refuses_weak_passwords_for_a_taken_address(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        sign_up(session, email="ada@example.com", password="long enough", roles=set())
        with pytest.raises(WeakPassword):
            sign_up(session, email="ada@example.com", password="password", roles=set())


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


@pytest.mark.parametrize(
    ("domain", "stored"),
    [
        ("brand.example", "brand.example"),
        ("Shop.Brand.Example.", "shop.brand.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.EXAMPLE.", "xn--bcher-kva.example"),
    ],
)
def test_organisation_domains_are_stored_as_their_canonical_host(domain: str, stored: str) -> None:
    assert organisation_domain(domain) == stored


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("10.0.0.1", "IP addresses are not domains"),
        ("0x7f.1", "IP addresses are not domains"),
        ("[::1]", "IP addresses are not domains"),
        ("::1", "IP addresses are not domains"),
        ("localhost", "expected e.g. brand.example"),
        ("-bad.example", "expected e.g. brand.example"),
        ("under_score.example", "expected e.g. brand.example"),
        ("https://brand.example/", "not a host name alone"),
        ("brand.example:8443", "not a host name alone"),
        ("user@brand.example", "not a host name alone"),
        ("", "no host name given"),
        ("a" * 2048, "label"),
        ("brand\x00.example", "control characters"),
        ("a..example", "label empty"),
        ("\u05d0a.example", "BIDI"),
    ],
)
def test_an_organisation_domain_must_be_a_domain_name(domain: str, reason: str) -> None:
    with pytest.raises(BadRequest, match="not a domain name") as refused:
        organisation_domain(domain)
    assert refused.value.status_code == 400
    assert reason in refused.value.message
    assert len(refused.value.message) < 400


def test_an_organisation_keeps_its_domain_in_canonical_form(
    db_engine: Engine, verify_email: Callable[[Session, User], None]
) -> None:
    with Session(db_engine) as session:
        brand = create_user(
            session, email="b@brand.example", password="long enough", roles={Role.BRAND}
        )
        verify_email(session, brand)
        organisation = create_organisation(session, brand, " Bücher ", "Bücher.Example.")
        assert (organisation.name, organisation.domain) == ("Bücher", "xn--bcher-kva.example")
        assert organisations_of(session, brand) == [organisation]


def test_people_may_give_themselves_any_role_but_admin() -> None:
    assert self_assignable_roles(["creator", "brand", "creator"]) == {Role.CREATOR, Role.BRAND}
    with pytest.raises(BadRequest, match="not self-assignable roles: admin, wizard"):
        self_assignable_roles(["wizard", "admin", "creator"])


def test_a_new_password_cost_applies_to_new_hashes_and_old_hashes_still_verify(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(account_service, "_password_hasher", account_service._password_hasher)
    with Session(db_engine) as session:
        set_password_cost(time_cost=1, memory_kib=64)
        cheap = create_user(session, email="cheap@example.com", password="long enough")
        set_password_cost(time_cost=2, memory_kib=256)
        dearer = create_user(session, email="dearer@example.com", password="long enough")
        assert "$m=64,t=1," in cheap.password_hash
        assert "$m=256,t=2," in dearer.password_hash
        assert authenticate(session, "cheap@example.com", "long enough") == cheap
        assert authenticate(session, "dearer@example.com", "long enough") == dearer
        with pytest.raises(Unauthorized):
            authenticate(session, "cheap@example.com", "not the password")
