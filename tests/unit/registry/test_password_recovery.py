"""A forgotten password: a single-use, expiring link mailed to the account's address, asked for
without learning whether an address has an account, within budgets per client and account."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import Message

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.accounts.passwords import WeakPassword
from registry.accounts.recovery import (
    LINK_LIFETIME,
    LINKS_PER_DAY,
    RESEND_INTERVAL,
    RESETS_PER_CLIENT,
    ResetLinkInvalid,
    request_password_reset,
    reset_link_user,
    reset_password,
)
from registry.accounts.service import (
    authenticate,
    create_user,
    start_login_session,
    user_for_login_session,
)
from registry.accounts.verification import EmailDisabled, VerificationMail
from registry.errors import TooManyRequests, Unauthorized
from registry.models import PasswordReset, User, utcnow
from tests.support.receivers import SmtpInbox

OLD = "the old long password"
NEW = "a brand new long password"
_RESET_TOKEN = re.compile(r"/password/reset\?token=([A-Za-z0-9_-]+)")


def reset_token(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = _RESET_TOKEN.search(body.decode())
    assert found is not None, body
    return found.group(1)


def _user(session: Session, email: str = "ana@example.com") -> User:
    user = create_user(session, email=email, password=OLD)
    session.commit()
    return user


def _ask(session: Session, mail: VerificationMail, email: str, client: str = "10.0.0.1") -> None:
    request_password_reset(session, mail, email=email, client=client)
    session.commit()


def _mailed_token(
    session: Session, mail: VerificationMail, inbox: SmtpInbox, email: str = "ana@example.com"
) -> str:
    count = len(inbox.to(email)) + 1
    _ask(session, mail, email)
    return reset_token(inbox.wait_for_message_to(email, count))


def test_the_mailed_link_sets_a_new_password(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        token = _mailed_token(session, verification_mail, inbox)
        reset_password(session, token, NEW)
        session.commit()
        assert authenticate(session, "ana@example.com", NEW).email == "ana@example.com"
        with pytest.raises(Unauthorized):
            authenticate(session, "ana@example.com", OLD)
    message = inbox.to("ana@example.com")[0]
    assert message["Subject"] == "Copymark: reset your password"
    assert f"https://copymark.example/password/reset?token={token}" in str(
        message.get_payload(decode=True), "utf-8"
    )


def test_an_address_with_no_account_gets_no_mail_and_the_same_answer(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        _ask(session, verification_mail, "nobody@example.com")
        _mailed_token(session, verification_mail, inbox)  # a later mail arrives: none was lost
        stored = session.exec(
            select(PasswordReset).where(col(PasswordReset.user_id).is_(None))
        ).all()
    assert inbox.to("nobody@example.com") == []
    assert [row.email for row in stored] == [""]  # the address typed is not kept


def test_a_link_works_once_and_spends_every_other_link(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        earlier = _mailed_token(session, verification_mail, inbox)
        request_password_reset(
            session,
            verification_mail,
            email="ana@example.com",
            client="10.0.0.1",
            now=utcnow() + RESEND_INTERVAL + timedelta(seconds=1),
        )
        session.commit()
        later = reset_token(inbox.wait_for_message_to("ana@example.com", 2))
        reset_password(session, later, NEW)
        session.commit()
        for spent in (later, earlier):
            with pytest.raises(ResetLinkInvalid, match="not valid"):
                reset_password(session, spent, "yet another long password")


def test_an_expired_link_is_refused(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        token = _mailed_token(session, verification_mail, inbox)
        later = utcnow() + LINK_LIFETIME + timedelta(seconds=1)
        with pytest.raises(ResetLinkInvalid, match="expired"):
            reset_password(session, token, NEW, now=later)
        assert reset_link_user(session, token).email == "ana@example.com"


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 101])
def test_a_made_up_link_is_refused_with_the_same_words(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox, token: str
) -> None:
    with Session(db_engine) as session:
        _user(session)
        _mailed_token(session, verification_mail, inbox)
        with pytest.raises(ResetLinkInvalid, match="not valid: it may have been used already"):
            reset_password(session, token, NEW)


def test_a_link_sent_to_a_former_address_resets_nothing(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        token = _mailed_token(session, verification_mail, inbox)
        user.email = "ana.new@example.com"
        session.add(user)
        session.commit()
        with pytest.raises(ResetLinkInvalid):
            reset_password(session, token, NEW)


def test_a_weak_new_password_is_refused_and_the_link_stays_good(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        token = _mailed_token(session, verification_mail, inbox)
        with pytest.raises(WeakPassword):
            reset_password(session, token, "short")
        session.rollback()
        reset_password(session, token, NEW)


def test_a_reset_ends_every_session_and_verifies_the_address(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        user = _user(session)
        signed_in = start_login_session(session, user)
        session.commit()
        token = _mailed_token(session, verification_mail, inbox)
        reset_password(session, token, NEW)
        session.commit()
        assert user_for_login_session(session, signed_in) is None
        assert user.email_verified


def test_one_client_asking_too_often_is_told_to_wait_whatever_the_addresses(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        for number in range(RESETS_PER_CLIENT):
            _ask(session, verification_mail, f"probe{number}@example.com", client="10.0.0.9")
        with pytest.raises(TooManyRequests) as refused:
            _ask(session, verification_mail, "probe-last@example.com", client="10.0.0.9")
        assert refused.value.retry_after_s > 0
        _ask(session, verification_mail, "other@example.com", client="10.0.0.10")


def test_an_account_is_mailed_at_most_its_budget_and_the_answer_does_not_change(
    db_engine: Engine, verification_mail: VerificationMail, inbox: SmtpInbox
) -> None:
    with Session(db_engine) as session:
        _user(session)
        start = utcnow()
        for number in range(LINKS_PER_DAY + 2):
            moment = start + (RESEND_INTERVAL + timedelta(seconds=1)) * number
            request_password_reset(
                session,
                verification_mail,
                email="ana@example.com",
                client=f"10.0.1.{number}",
                now=moment,
            )
            session.commit()
        request_password_reset(
            session, verification_mail, email="ana@example.com", client="10.0.2.1", now=start
        )
        session.commit()
        links = session.exec(
            select(PasswordReset).where(col(PasswordReset.token_hash).is_not(None))
        ).all()
    assert len(links) == LINKS_PER_DAY
    inbox.wait_for_message_to("ana@example.com", LINKS_PER_DAY)
    assert len(inbox.to("ana@example.com")) == LINKS_PER_DAY


def test_a_server_without_email_says_so(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        _user(session)
        with pytest.raises(EmailDisabled, match="no email"):
            request_password_reset(
                session,
                VerificationMail(None, "https://copymark.example"),
                email="ana@example.com",
                client="10.0.0.1",
            )
