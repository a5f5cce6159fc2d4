"""Each recipient reads a notification in their own language: email at delivery, the inbox when
shown; values (a work title) reach the reader as written, whatever they hold."""

from __future__ import annotations

from dataclasses import replace
from email.header import decode_header, make_header
from email.message import Message as EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontend.i18n import gettext_in
from registry.messages import N_, Message
from registry.models import User, Work
from registry.monitoring.models import Alert
from registry.monitoring.service import notify_rights_holder
from registry.notifications.delivery import deliver_due
from registry.notifications.models import Notification
from registry.notifications.service import notify
from registry.notifications.texts import body_in, subject_in
from tests.support.receivers import SmtpInbox
from tests.unit.registry.notifications.support import LoopbackNotificationServices

HOSTILE_TITLE = "50% off {} %(title)s %s\r\nBcc: x@example.com"


@pytest.fixture
def translating_services(
    notifying_services: LoopbackNotificationServices,
) -> LoopbackNotificationServices:
    """The app's own catalogs write each email in its recipient's stored language."""
    return replace(notifying_services, mail_translate=gettext_in)


def _speaks(services: LoopbackNotificationServices, user: User, locale: str | None) -> None:
    with services.session() as session:
        stored = session.get(User, user.id)
        assert stored is not None
        stored.locale = locale
        session.add(stored)
        session.commit()


def _alert_on_work_of(services: LoopbackNotificationServices, owner: User, title: str) -> None:
    """A new alert on a work of `owner`, told to them as the monitoring context tells it."""
    with services.session() as session:
        work = Work(
            owner_id=owner.id,
            title=title,
            sha256="a" * 64,
            mime_type="image/png",
            width=10,
            height=10,
            byte_size=100,
        )
        session.add(work)
        session.flush()
        alert = Alert(
            work_id=work.id,
            image_sha256="b" * 64,
            image_url="https://shop.example/copy.png",
            image_url_sha256="c" * 64,
            page_url="https://shop.example/item",
            domain="shop.example",
            score=0.87,
            evidence_sha256="d" * 64,
            manifest_sha256="e" * 64,
            log_index=7,
        )
        session.add(alert)
        session.flush()
        notify_rights_holder(session, alert)
        session.commit()


def _subject_of(message: EmailMessage) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _text_of(message: EmailMessage) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_a_chinese_reader_gets_the_alert_email_in_chinese(
    translating_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _speaks(translating_services, alice, "zh")
    _alert_on_work_of(translating_services, alice, "Sunflowers")
    assert deliver_due(translating_services).sent == 1
    message = inbox.wait_for_message_to("alice@example.com")
    assert _subject_of(message) == "Copymark：shop.example 上可能有“Sunflowers”的复制品"
    text = _text_of(message)
    assert "复制了您的作品“Sunflowers”（得分 0.87）" in text
    assert "日志索引 7" in text
    assert "copies your work" not in text


def test_an_english_reader_gets_the_alert_email_in_english(
    translating_services: LoopbackNotificationServices, bob: User, inbox: SmtpInbox
) -> None:
    _speaks(translating_services, bob, "en")
    _alert_on_work_of(translating_services, bob, "Sunflowers")
    deliver_due(translating_services)
    message = inbox.wait_for_message_to("bob@example.com")
    assert _subject_of(message) == "Copymark: Possible copy of “Sunflowers” on shop.example"
    assert "copies your work “Sunflowers” (score 0.87)" in _text_of(message)


def test_a_hostile_title_reaches_the_email_as_written_on_one_subject_line(
    translating_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _speaks(translating_services, alice, "zh")
    _alert_on_work_of(translating_services, alice, HOSTILE_TITLE)
    assert deliver_due(translating_services).sent == 1
    message = inbox.wait_for_message_to("alice@example.com")
    assert message["Bcc"] is None
    assert "50% off {} %(title)s %s Bcc: x@example.com" in _subject_of(message)
    assert "作品“50% off {} %(title)s %s" in _text_of(message)


def test_rows_written_before_templates_show_their_stored_text() -> None:
    stored = Notification(user_id=1, kind="old", subject="Old subject", body="Old 100% body")
    chinese = gettext_in("zh")
    assert subject_in(stored, chinese) == "Old subject"
    assert body_in(stored, chinese) == "Old 100% body"


def test_the_english_text_is_stored_beside_the_template(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session:
        stored = notify(
            session,
            alice,
            "test",
            N_("Work %(work)s is watched for you"),
            N_("Any copy of %(title)s, 100%% of them."),
            params={"work": 3, "title": "a%b"},
        )
        session.commit()
    assert stored.subject == "Work 3 is watched for you"
    assert stored.body == "Any copy of a%b, 100% of them."
    assert stored.subject_template == "Work %(work)s is watched for you"
    assert stored.message_params == {"work": 3, "title": "a%b"}


def test_a_template_that_does_not_fit_its_values_fails_where_it_is_written(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session, pytest.raises(KeyError):
        notify(session, alice, "test", N_("Work %(work)s"), N_("body"), params={"other": 1})


@settings(max_examples=200, deadline=None)
@given(value=st.text(), locale=st.sampled_from(["en", "zh", None]))
def test_any_value_reaches_every_language_as_written(value: str, locale: str | None) -> None:
    wording = Message(N_("Possible copy of “%(title)s” on %(domain)s"), {"title": value})
    restored = Message.from_json(
        Message(wording.template, {"title": value, "domain": value}).to_json()
    )
    assert value in restored.render(gettext_in(locale))


def test_a_translated_word_inside_a_message_is_translated_too() -> None:
    wording = Message(
        N_(
            "The %(sale_type)s license grant %(grant)s on work %(work)s was cancelled before "
            "payment."
        ),
        {"sale_type": Message(N_("buyout")), "grant": 4, "work": 9},
    )
    restored = Message.from_json(wording.to_json())
    assert restored.render(gettext_in("zh")) == "作品 9 的买断许可授权 4 在付款前已取消。"
    assert (
        restored.english() == "The buyout license grant 4 on work 9 was cancelled before payment."
    )


def test_a_translation_that_lost_a_placeholder_falls_back_to_english() -> None:
    def broken(_template: str) -> str:
        return "%(missing)s"

    assert Message("Work %(work)s", {"work": 5}).render(broken) == "Work 5"
