"""notify, the inbox and email preferences, against the real database of each kind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from registry.errors import NotFound
from registry.models import User, persisted_id, utcnow
from registry.notifications.delivery import DIGEST_PERIOD
from registry.notifications.models import Channel, Delivery, DeliveryStatus, EmailMode
from registry.notifications.repository import preference_of
from registry.notifications.service import (
    email_mode_of,
    list_inbox,
    mark_all_read,
    mark_read,
    notify,
    set_email_mode,
)
from tests.unit.registry.notifications.support import LoopbackNotificationServices


def _notify(services: LoopbackNotificationServices, user: User, subject: str = "Copy found") -> int:
    with services.session() as session:
        notification = notify(
            session, user, "alert.created", subject, "A copy of your work.", {"alert_id": 7}
        )
        session.commit()
        assert notification.id is not None
        return notification.id


def _deliveries(services: LoopbackNotificationServices, notification_id: int) -> list[Delivery]:
    with services.session() as session:
        return list(
            session.exec(select(Delivery).where(Delivery.notification_id == notification_id))
        )


def test_notify_records_the_notification_in_the_inbox(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    notification_id = _notify(notifying_services, alice)
    with notifying_services.session() as session:
        (listed,) = list_inbox(session, alice)
    assert listed.id == notification_id
    assert (listed.kind, listed.subject, listed.payload) == (
        "alert.created",
        "Copy found",
        {"alert_id": 7},
    )
    assert listed.read_at is None


def test_inbox_lists_only_the_users_own_notifications(
    notifying_services: LoopbackNotificationServices, alice: User, bob: User
) -> None:
    _notify(notifying_services, alice)
    with notifying_services.session() as session:
        assert list_inbox(session, bob) == []


def test_inbox_is_newest_first_and_pages_with_before_id(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    ids = [_notify(notifying_services, alice, f"n{number}") for number in range(3)]
    with notifying_services.session() as session:
        first_page = list_inbox(session, alice, limit=2)
        second_page = list_inbox(session, alice, limit=2, before_id=first_page[-1].id)
    assert [n.id for n in first_page] == ids[::-1][:2]
    assert [n.id for n in second_page] == ids[:1]


def test_mark_read_sets_read_time_once(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    notification_id = _notify(notifying_services, alice)
    with notifying_services.session() as session:
        first = mark_read(session, alice, notification_id).read_at
        session.commit()
    with notifying_services.session() as session:
        again = mark_read(session, alice, notification_id).read_at
    assert first is not None
    assert again == first


def test_mark_read_of_another_users_notification_is_not_found(
    notifying_services: LoopbackNotificationServices, alice: User, bob: User
) -> None:
    notification_id = _notify(notifying_services, alice)
    with notifying_services.session() as session, pytest.raises(NotFound):
        mark_read(session, bob, notification_id)


def test_mark_all_read_leaves_no_unread(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    for _ in range(2):
        _notify(notifying_services, alice)
    with notifying_services.session() as session:
        assert mark_all_read(session, alice) == 2
        session.commit()
    with notifying_services.session() as session:
        assert list_inbox(session, alice, unread_only=True) == []


def test_subject_line_breaks_are_removed(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    _notify(notifying_services, alice, "Copy\r\nBcc: victim@example.com")
    with notifying_services.session() as session:
        (listed,) = list_inbox(session, alice)
    assert "\n" not in listed.subject
    assert "\r" not in listed.subject


def test_payload_that_is_not_json_is_refused(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session, pytest.raises(TypeError):
        notify(session, alice, "alert.created", "s", "b", {"when": object()})


def test_rolled_back_notify_leaves_nothing_to_send(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session:
        notify(session, alice, "alert.created", "s", "b", {})
        session.rollback()
    with notifying_services.session() as session:
        assert session.exec(select(Delivery)).all() == []


def test_immediate_mode_queues_an_email_due_now(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    notification_id = _notify(notifying_services, alice)
    (delivery,) = _deliveries(notifying_services, notification_id)
    assert delivery.channel == Channel.EMAIL
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at <= utcnow()


def test_daily_mode_holds_email_for_the_digest(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session:
        set_email_mode(session, alice, EmailMode.DAILY)
        session.commit()
    (delivery,) = _deliveries(notifying_services, _notify(notifying_services, alice))
    assert delivery.status == DeliveryStatus.HELD_FOR_DIGEST


def test_off_mode_queues_no_email(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session:
        set_email_mode(session, alice, EmailMode.OFF)
        session.commit()
    assert _deliveries(notifying_services, _notify(notifying_services, alice)) == []


def test_switching_daily_to_immediate_releases_held_email(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    with notifying_services.session() as session:
        set_email_mode(session, alice, EmailMode.DAILY)
        session.commit()
    notification_id = _notify(notifying_services, alice)
    with notifying_services.session() as session:
        set_email_mode(session, alice, EmailMode.IMMEDIATE)
        session.commit()
    (delivery,) = _deliveries(notifying_services, notification_id)
    assert delivery.status == DeliveryStatus.PENDING


def test_switching_to_daily_schedules_the_first_digest_a_day_later(
    notifying_services: LoopbackNotificationServices, alice: User
) -> None:
    before = utcnow()
    with notifying_services.session() as session:
        set_email_mode(session, alice, EmailMode.DAILY)
        session.commit()
    with notifying_services.session() as session:
        scheduled = preference_of(session, persisted_id(alice)).next_digest_at
        assert email_mode_of(session, alice) == EmailMode.DAILY
    assert scheduled is not None
    assert before + DIGEST_PERIOD - timedelta(seconds=5) <= scheduled
