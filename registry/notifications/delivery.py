"""Delivery: what committed notification rows ask for is sent, and every attempt is recorded.

Invariant: nothing leaves the system for a transaction that rolls back. `notify` (in the service)
only writes rows, an outbox; `deliver_due` and `send_digests` send what committed rows ask for,
after commit, from a `notify` task that the same transaction enqueued. A delivery is claimed for
CLAIM_LEASE in its own committed transaction before anything is sent, so a second worker skips
it; a failed attempt is retried with exponential backoff up to MAX_ATTEMPTS. Delivery is at least
once: a crash between sending and recording resends, so webhook receivers deduplicate on the
Copymark-Delivery header.
Unlike the use cases, these functions open and commit their own sessions.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from registry.models import User, persisted_id, utcnow
from registry.notifications import repository
from registry.notifications.mail import Mailer, SmtpMailer, Translate, compose
from registry.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    WebhookEndpoint,
)
from registry.notifications.texts import body_in, subject_in
from registry.notifications.webhooks import AttemptOutcome, WebhookGuard, post_webhook
from registry.tasks.outbox import enqueue

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
MAX_ATTEMPTS = 10
CLAIM_LEASE = timedelta(minutes=2)
DIGEST_PERIOD = timedelta(days=1)
DIGEST_RETRY = timedelta(minutes=15)
DELIVERY_BATCH = 100
NOTIFY_TASK = "notify"


class NotificationSettings(Protocol):
    """The settings the senders read; the app's Settings object satisfies it."""

    @property
    def smtp_host(self) -> str: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_from(self) -> str: ...
    @property
    def smtp_username(self) -> str: ...
    @property
    def smtp_password(self) -> str: ...
    @property
    def smtp_starttls(self) -> bool: ...
    @property
    def webhook_allow_hosts(self) -> list[str]: ...
    @property
    def webhook_timeout_s(self) -> float: ...
    @property
    def base_url(self) -> str: ...


class NotificationServices(Protocol):
    """What the senders need from the composition root."""

    @property
    def settings(self) -> NotificationSettings: ...

    @property
    def mail_translate(self) -> Translate:
        """Writes each email in its recipient's stored language."""
        ...

    def session(self) -> Session: ...


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    channel: Channel
    attempts: int
    recipient: str
    recipient_locale: str | None
    notification: Notification
    endpoint_url: str | None
    endpoint_secret: str | None


def mailer_for(settings: NotificationSettings) -> Mailer | None:
    """The SMTP mailer, or None when email is disabled (empty smtp_host)."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )


def webhook_guard_for(settings: NotificationSettings) -> WebhookGuard:
    """The guard that vets webhook targets, opened to the hosts the operator allowed."""
    return WebhookGuard(settings.webhook_allow_hosts)


def queue_delivery_round(session: Session, key: str) -> None:
    """Send what is due once the session commits (a `notify` task, relayed from the outbox)."""
    enqueue(session, NOTIFY_TASK, {}, f"{NOTIFY_TASK}:{key}")


def delivery_round(services: NotificationServices) -> None:
    """Send every due delivery and digest: what a `notify` task does."""
    deliver_due(services)
    send_digests(services)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s after the first failure, doubling, at most 6 hours."""
    return min(FIRST_RETRY * (1 << max(attempts - 1, 0)), LONGEST_RETRY)


def webhook_body(notification: Notification) -> bytes:
    """The JSON a webhook receives; the same bytes on every retry."""
    document = {
        "id": notification.id,
        "kind": notification.kind,
        "subject": notification.subject,
        "body": notification.body,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def deliver_due(services: NotificationServices, now: datetime | None = None) -> DeliveryReport:
    """Send every pending email and webhook whose time has come, and record each attempt."""
    moment = now or utcnow()
    claimed = _claim(services, moment)
    if not claimed:
        return DeliveryReport()
    settings = services.settings
    mailer = mailer_for(settings)
    outcomes: dict[int, AttemptOutcome] = {}
    for item in claimed:
        if item.channel == Channel.EMAIL:
            _ = services.mail_translate(item.recipient_locale)
            outcomes[item.delivery_id] = _send_email(mailer, item, settings.base_url, _)
    webhooks = [item for item in claimed if item.channel == Channel.WEBHOOK]
    if webhooks:
        guard = webhook_guard_for(settings)
        sent = _send_webhooks(guard, webhooks, moment, settings.webhook_timeout_s)
        outcomes.update(asyncio.run(sent))
    return _record(services, claimed, outcomes, moment)


def _claim(services: NotificationServices, now: datetime) -> list[_Claimed]:
    """Take due deliveries out of others' reach for CLAIM_LEASE, committing before any send."""
    with services.session() as session:
        claimed: list[_Claimed] = []
        for delivery in repository.claim_due_deliveries(session, now, DELIVERY_BATCH):
            delivery.next_attempt_at = now + CLAIM_LEASE
            session.add(delivery)
            notification = session.get(Notification, delivery.notification_id)
            user = session.get(User, delivery.user_id)
            endpoint = (
                session.get(WebhookEndpoint, delivery.endpoint_id)
                if delivery.endpoint_id is not None
                else None
            )
            if notification is None or user is None:
                continue
            active = endpoint is not None and endpoint.disabled_at is None
            claimed.append(
                _Claimed(
                    delivery_id=persisted_id(delivery),
                    channel=delivery.channel,
                    attempts=delivery.attempts,
                    recipient=user.email,
                    recipient_locale=user.locale,
                    notification=notification,
                    endpoint_url=endpoint.url if active and endpoint else None,
                    endpoint_secret=endpoint.secret if active and endpoint else None,
                )
            )
        session.commit()
    return claimed


def _send_email(
    mailer: Mailer | None, item: _Claimed, base_url: str, _: Callable[[str], str]
) -> AttemptOutcome:
    if mailer is None:
        return AttemptOutcome(
            None, "email is disabled: no SMTP host is configured", 0.0, permanent=True
        )
    notification = item.notification
    preferences = _("Change how you receive email in your notification preferences.")
    text = f"{body_in(notification, _)}\n\n{_inbox_line(base_url, _)}\n{preferences}\n"
    subject = _("Copymark: %(subject)s") % {"subject": subject_in(notification, _)}
    message = compose(item.recipient, subject, text)
    return _timed_send(mailer, message)


def _inbox_line(base_url: str, _: Callable[[str], str]) -> str:
    return _("Your notifications: %(url)s") % {"url": f"{base_url.rstrip('/')}/notifications"}


def _timed_send(mailer: Mailer, message: Any) -> AttemptOutcome:
    started = time.perf_counter()
    try:
        mailer.send(message)
    except (OSError, smtplib.SMTPException) as error:
        elapsed = (time.perf_counter() - started) * 1000
        return AttemptOutcome(None, f"{type(error).__name__}: {error}"[:1000], elapsed)
    return AttemptOutcome(250, None, (time.perf_counter() - started) * 1000)


async def _send_webhooks(
    guard: WebhookGuard, items: list[_Claimed], now: datetime, timeout_s: float
) -> dict[int, AttemptOutcome]:
    async def send(item: _Claimed) -> tuple[int, AttemptOutcome]:
        if item.endpoint_url is None or item.endpoint_secret is None:
            removed = AttemptOutcome(None, "webhook endpoint was removed", 0.0, permanent=True)
            return item.delivery_id, removed
        outcome = await post_webhook(
            guard,
            item.endpoint_url,
            secret=item.endpoint_secret,
            body=webhook_body(item.notification),
            delivery_id=item.delivery_id,
            event=item.notification.kind,
            now=now,
            timeout_s=timeout_s,
        )
        return item.delivery_id, outcome

    return dict(await asyncio.gather(*(send(item) for item in items)))


def _record(
    services: NotificationServices,
    claimed: list[_Claimed],
    outcomes: dict[int, AttemptOutcome],
    now: datetime,
) -> DeliveryReport:
    sent = retrying = failed = 0
    with services.session() as session:
        for item in claimed:
            outcome = outcomes[item.delivery_id]
            delivery = session.get(Delivery, item.delivery_id)
            if delivery is None:
                continue
            session.add(_attempt(item.delivery_id, outcome, now))
            delivery.attempts += 1
            if outcome.succeeded:
                delivery.status = DeliveryStatus.SENT
                delivery.sent_at = now
                delivery.next_attempt_at = None
                sent += 1
            elif delivery.attempts >= MAX_ATTEMPTS or outcome.permanent:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                failed += 1
            else:
                delivery.next_attempt_at = now + retry_delay(delivery.attempts)
                retrying += 1
            session.add(delivery)
        session.commit()
    return DeliveryReport(sent=sent, retrying=retrying, failed=failed)


def _attempt(delivery_id: int, outcome: AttemptOutcome, now: datetime) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=delivery_id,
        attempted_at=now,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=round(outcome.duration_ms, 3),
    )


def send_digests(services: NotificationServices, now: datetime | None = None) -> int:
    """Email each daily-digest user whose time has come one message with all held items."""
    moment = now or utcnow()
    mailer = mailer_for(services.settings)
    if mailer is None:
        return 0
    with services.session() as session:
        due = repository.claim_due_digests(session, moment)
        for preference in due:
            preference.next_digest_at = moment + CLAIM_LEASE
        session.add_all(due)
        due_users = [preference.user_id for preference in due]
        session.commit()
    return sum(_send_digest(services, mailer, user_id, moment) for user_id in due_users)


def _send_digest(
    services: NotificationServices, mailer: Mailer, user_id: int, now: datetime
) -> int:
    with services.session() as session:
        user = session.get(User, user_id)
        held = repository.held_deliveries(session, user_id)
        notifications = [session.get(Notification, delivery.notification_id) for delivery in held]
        held_ids = [persisted_id(delivery) for delivery in held]
    items = [notification for notification in notifications if notification is not None]
    outcome = None
    if user is not None and items:
        _ = services.mail_translate(user.locale)
        message = compose(
            user.email, _digest_subject(len(items), _), _digest_text(items, services, _)
        )
        outcome = _timed_send(mailer, message)
    with services.session() as session:
        preference = repository.preference_of(session, user_id)
        if outcome is None:
            preference.next_digest_at = None
        else:
            for delivery_id in held_ids:
                _record_digest_attempt(session, delivery_id, outcome, now)
            retry = DIGEST_PERIOD if outcome.succeeded else DIGEST_RETRY
            preference.next_digest_at = now + retry
        session.add(preference)
        session.commit()
    return 1 if outcome is not None and outcome.succeeded else 0


def _record_digest_attempt(
    session: Session, delivery_id: int, outcome: AttemptOutcome, now: datetime
) -> None:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.HELD_FOR_DIGEST:
        return
    session.add(_attempt(delivery_id, outcome, now))
    delivery.attempts += 1
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = now
    session.add(delivery)


def _digest_subject(count: int, _: Callable[[str], str]) -> str:
    if count == 1:
        return _("Copymark daily digest: 1 new notification")
    return _("Copymark daily digest: %(count)s new notifications") % {"count": count}


def _digest_text(
    items: list[Notification], services: NotificationServices, _: Callable[[str], str]
) -> str:
    sections = [
        f"{item.created_at:%Y-%m-%d %H:%M} UTC - {subject_in(item, _)}\n{body_in(item, _)}"
        for item in items
    ]
    footer = _inbox_line(services.settings.base_url, _) + "\n"
    return "\n\n".join([*sections, footer])
