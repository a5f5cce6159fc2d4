"""deliver_due and send_digests against a real SMTP server and a real loopback webhook receiver."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import Message

from sqlmodel import col, select

from registry.models import User, utcnow
from registry.notifications.delivery import (
    MAX_ATTEMPTS,
    deliver_due,
    retry_delay,
    send_digests,
    webhook_guard_for,
)
from registry.notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, EmailMode
from registry.notifications.service import notify, register_webhook, set_email_mode
from registry.notifications.signatures import SIGNATURE_HEADER, verify_webhook_signature
from registry.notifications.webhooks import DELIVERY_HEADER
from registry.notifications.worker import delivery_task
from registry.tasks.inprocess import InProcessQueue
from registry.tasks.queue import TaskKinds
from registry.tasks.relay import OutboxRelay
from tests.support.receivers import SmtpInbox, WebhookReceiver
from tests.unit.registry.notifications.support import LoopbackNotificationServices


def _notify(
    services: LoopbackNotificationServices, user: User, subject: str = "Copy found"
) -> None:
    with services.session() as session:
        notify(session, user, "alert.created", subject, f"Body of {subject}", {"alert_id": 1})
        session.commit()


def _set_mode(services: LoopbackNotificationServices, user: User, mode: EmailMode) -> None:
    with services.session() as session:
        set_email_mode(session, user, mode)
        session.commit()


def _webhook(services: LoopbackNotificationServices, user: User, url: str) -> str:
    with services.session() as session:
        _endpoint, secret = register_webhook(
            session, user, webhook_guard_for(services.settings), url
        )
        session.commit()
    _set_mode(services, user, EmailMode.OFF)
    return secret


def _webhook_deliveries(services: LoopbackNotificationServices) -> list[Delivery]:
    with services.session() as session:
        return list(session.exec(select(Delivery).where(col(Delivery.endpoint_id).is_not(None))))


def _attempts(services: LoopbackNotificationServices) -> list[DeliveryAttempt]:
    with services.session() as session:
        return list(session.exec(select(DeliveryAttempt).order_by(col(DeliveryAttempt.id))))


def test_immediate_email_reaches_the_smtp_server(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _notify(notifying_services, alice, "Copy of Sunflowers found")
    report = deliver_due(notifying_services)
    (message,) = inbox.wait_for(1)
    assert report.sent == 1
    assert message["To"] == "alice@example.com"
    assert message["From"] == "Copymark <alerts@copymark.test>"
    assert "Copy of Sunflowers found" in message["Subject"]
    assert "Body of Copy of Sunflowers found" in _text_of(message)


def test_sent_email_is_not_sent_again(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _notify(notifying_services, alice)
    deliver_due(notifying_services)
    assert deliver_due(notifying_services).sent == 0
    assert len(inbox.wait_for(1)) == 1


def test_unreachable_smtp_server_is_retried_later(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    broken_services = notifying_services.with_settings(smtp_port=1)
    _notify(notifying_services, alice)
    now = utcnow()
    assert deliver_due(broken_services, now).retrying == 1
    (attempt,) = _attempts(notifying_services)
    assert attempt.error is not None
    assert deliver_due(notifying_services, now + timedelta(seconds=1)).sent == 0
    assert deliver_due(notifying_services, now + retry_delay(1)).sent == 1
    assert len(inbox.wait_for(1)) == 1


def test_daily_digest_groups_held_items_into_one_email(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _set_mode(notifying_services, alice, EmailMode.DAILY)
    for subject in ("First copy", "Second copy"):
        _notify(notifying_services, alice, subject)
    assert deliver_due(notifying_services).sent == 0
    assert send_digests(notifying_services) == 0
    assert send_digests(notifying_services, utcnow() + timedelta(days=1, minutes=1)) == 1
    (message,) = inbox.wait_for(1)
    text = _text_of(message)
    assert "2 new notifications" in message["Subject"]
    assert "First copy" in text
    assert "Second copy" in text


def test_digest_items_are_not_sent_twice(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    _set_mode(notifying_services, alice, EmailMode.DAILY)
    _notify(notifying_services, alice)
    later = utcnow() + timedelta(days=1, minutes=1)
    send_digests(notifying_services, later)
    assert send_digests(notifying_services, later + timedelta(days=2)) == 0
    assert len(inbox.wait_for(1)) == 1


def test_webhook_delivery_is_signed_and_verifiable(
    notifying_services: LoopbackNotificationServices, alice: User, receiver: WebhookReceiver
) -> None:
    secret = _webhook(notifying_services, alice, receiver.url)
    _notify(notifying_services, alice, "Copy found")
    now = utcnow()
    assert deliver_due(notifying_services, now).sent == 1
    (request,) = receiver.requests
    verify_webhook_signature(secret, request.headers[SIGNATURE_HEADER], request.body, now)
    document = json.loads(request.body)
    assert (document["kind"], document["subject"], document["payload"]) == (
        "alert.created",
        "Copy found",
        {"alert_id": 1},
    )
    assert request.headers[DELIVERY_HEADER].isdigit()


def test_failing_webhook_is_retried_with_exponential_backoff(
    notifying_services: LoopbackNotificationServices, alice: User, receiver: WebhookReceiver
) -> None:
    _webhook(notifying_services, alice, receiver.url)
    receiver.statuses.extend([500, 503])
    _notify(notifying_services, alice)
    start = utcnow()
    deliver_due(notifying_services, start)
    (first,) = _webhook_deliveries(notifying_services)
    assert first.next_attempt_at == start + retry_delay(1)
    second_try = start + retry_delay(1)
    deliver_due(notifying_services, second_try)
    (second,) = _webhook_deliveries(notifying_services)
    assert second.next_attempt_at == second_try + retry_delay(2)
    assert retry_delay(2) == 2 * retry_delay(1)
    deliver_due(notifying_services, second_try + retry_delay(2))
    (done,) = _webhook_deliveries(notifying_services)
    assert done.status == DeliveryStatus.SENT
    assert [attempt.status_code for attempt in _attempts(notifying_services)] == [500, 503, 204]


def test_every_attempt_logs_status_error_and_duration(
    notifying_services: LoopbackNotificationServices, alice: User, receiver: WebhookReceiver
) -> None:
    _webhook(notifying_services, alice, receiver.url)
    receiver.statuses.append(500)
    _notify(notifying_services, alice)
    deliver_due(notifying_services)
    (attempt,) = _attempts(notifying_services)
    assert attempt.status_code == 500
    assert attempt.error is not None
    assert "500" in attempt.error
    assert attempt.duration_ms > 0


def test_webhook_gives_up_after_the_last_attempt(
    notifying_services: LoopbackNotificationServices, alice: User, receiver: WebhookReceiver
) -> None:
    _webhook(notifying_services, alice, receiver.url)
    receiver.statuses.extend([500] * MAX_ATTEMPTS)
    _notify(notifying_services, alice)
    moment = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        deliver_due(notifying_services, moment)
        moment += retry_delay(attempt)
    (delivery,) = _webhook_deliveries(notifying_services)
    assert delivery.status == DeliveryStatus.FAILED
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_webhook_to_a_private_address_is_refused_at_delivery(
    notifying_services: LoopbackNotificationServices, alice: User, receiver: WebhookReceiver
) -> None:
    _webhook(notifying_services, alice, receiver.url)
    guarded_services = notifying_services.with_settings(webhook_allow_hosts=[])
    _notify(notifying_services, alice)
    deliver_due(guarded_services)
    (attempt,) = _attempts(notifying_services)
    assert receiver.requests == []
    assert attempt.error is not None
    assert "refused" in attempt.error


def test_the_notify_task_sends_right_after_commit(
    notifying_services: LoopbackNotificationServices, alice: User, inbox: SmtpInbox
) -> None:
    sessions = notifying_services.session
    tasks = InProcessQueue(sessions, TaskKinds([delivery_task(notifying_services)]))
    relay = OutboxRelay(sessions, notifying_services.engine, tasks, poll_interval_s=60)
    tasks.start()
    relay.start()
    try:
        _notify(notifying_services, alice)
        messages = inbox.wait_for(1, timeout_s=10)
    finally:
        relay.stop()
        tasks.stop()
    assert len(messages) == 1


def _text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()
