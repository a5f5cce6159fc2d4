"""Email verification: a mailed link proves the address before the account acts for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.accounts.service import create_organisation, create_user
from registry.accounts.verification import (
    LINK_LIFETIME,
    LINKS_PER_DAY,
    EmailDisabled,
    EmailNotVerified,
    VerificationLinkInvalid,
    VerificationMail,
    confirm_email,
    send_verification_link,
)
from registry.errors import Conflict, TooManyRequests
from registry.models import EmailVerification, Role, User, utcnow
from tests.support.receivers import SmtpInbox, verification_token

PASSWORD = "long enough"


@pytest.fixture
def mail(verification_mail: VerificationMail) -> VerificationMail:
    return verification_mail


def _user(session: Session, email: str = "ana@example.com", roles: set[Role] | None = None) -> User:
    user = create_user(session, email=email, password=PASSWORD, roles=roles)
    session.commit()
    return user


def _mailed_token(session: Session, user: User, mail: VerificationMail, inbox: SmtpInbox) -> str:
    count = len(inbox.to(user.email)) + 1
    send_verification_link(session, user, mail)
    session.commit()
    return verification_token(inbox.wait_for_message_to(user.email, count))


def test_a_new_account_is_not_verified(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        assert not _user(session).email_verified


def test_the_mailed_link_verifies_the_address(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        token = _mailed_token(session, user, mail, inbox)
        assert confirm_email(session, token).id == user.id
        session.commit()
        assert user.email_verified


def test_the_link_is_mailed_to_the_address_and_points_at_the_site(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        token = _mailed_token(session, user, mail, inbox)
    message = inbox.to("ana@example.com")[0]
    assert message["Subject"] == "Copymark: confirm your email address"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert f"https://copymark.example/verify-email?token={token}" in body.decode()


def test_nothing_is_mailed_when_the_transaction_rolls_back(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        send_verification_link(session, user, mail)
        session.rollback()
        other = _user(session, "ben@example.com")
        _mailed_token(session, other, mail, inbox)
    assert inbox.to("ana@example.com") == []


def test_only_the_token_digest_is_stored(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        token = _mailed_token(session, _user(session), mail, inbox)
        (link,) = session.exec(select(EmailVerification)).all()
        assert token not in link.model_dump_json()


def test_a_link_works_once(db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox) -> None:
    with Session(db_engine) as session:
        token = _mailed_token(session, _user(session), mail, inbox)
        confirm_email(session, token)
        with pytest.raises(VerificationLinkInvalid, match="not valid"):
            confirm_email(session, token)


def test_an_expired_link_is_refused(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        token = _mailed_token(session, user, mail, inbox)
        with pytest.raises(VerificationLinkInvalid, match="expired"):
            confirm_email(session, token, now=utcnow() + LINK_LIFETIME + timedelta(seconds=1))
        assert not user.email_verified


def test_a_link_sent_to_a_former_address_verifies_nothing(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        token = _mailed_token(session, user, mail, inbox)
        user.email = "someone-else@example.com"
        session.add(user)
        session.flush()
        with pytest.raises(VerificationLinkInvalid):
            confirm_email(session, token)
        assert not user.email_verified


# The database is only read, so one per test (not per example) is enough.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_no_made_up_token_verifies_anyone(db_engine: Engine, token: str) -> None:
    with Session(db_engine) as session, pytest.raises(VerificationLinkInvalid):
        confirm_email(session, token)


def test_a_second_link_within_a_minute_is_refused_with_a_wait(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        _mailed_token(session, user, mail, inbox)
        with pytest.raises(TooManyRequests, match="less than a minute ago") as refused:
            send_verification_link(session, user, mail)
        assert 0 < refused.value.retry_after_s <= 60


def test_links_per_day_are_limited(db_engine: Engine, mail: VerificationMail) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        start = utcnow()
        for minute in range(LINKS_PER_DAY):
            send_verification_link(session, user, mail, now=start + timedelta(minutes=2 * minute))
        later = start + timedelta(hours=3)
        with pytest.raises(TooManyRequests, match="in the last day"):
            send_verification_link(session, user, mail, now=later)
        send_verification_link(session, user, mail, now=start + timedelta(days=1, minutes=1))
        session.rollback()


def test_a_verified_address_gets_no_new_link(
    db_engine: Engine, mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        confirm_email(session, _mailed_token(session, user, mail, inbox))
        with pytest.raises(Conflict, match="already verified"):
            send_verification_link(session, user, mail)


def test_without_an_smtp_server_no_link_can_be_sent(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        with pytest.raises(EmailDisabled, match="sends no email"):
            send_verification_link(session, user, VerificationMail(None, "http://x"))
    assert EmailDisabled.status_code == 503


def test_an_unverified_account_cannot_own_an_organisation(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        brand = _user(session, "buyer@brand.example", {Role.BRAND})
        with pytest.raises(EmailNotVerified, match="Verify your email address first") as refused:
            create_organisation(session, brand, "Brand", "brand.example")
        assert "own an organisation" in refused.value.message
        assert refused.value.status_code == 403
