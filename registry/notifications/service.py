"""Notifications: `notify` records in-app and queues email and webhooks in the same transaction.

Invariant: nothing leaves the system for a transaction that rolls back. `notify` only writes rows
(an outbox); `deliver_due` and `send_digests` send what committed rows ask for, after commit, from
the in-process worker. Delivery is at least once: a crash between sending and recording resends,
so webhook receivers deduplicate on the Copymark-Delivery header.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import smtplib
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.errors import Conflict
from registry.models import User, persisted_id, utcnow
from registry.notifications import repository
from registry.notifications.mail import Mailer, SmtpMailer, compose
from registry.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailMode,
    Notification,
    WebhookEndpoint,
)
from registry.notifications.webhooks import AttemptOutcome, WebhookGuard, post_webhook

MAX_SUBJECT = 300
MAX_BODY = 20000
MAX_KIND = 64
MAX_ENDPOINTS_PER_USER = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
MAX_ATTEMPTS = 10
CLAIM_LEASE = timedelta(minutes=2)
DIGEST_PERIOD = timedelta(days=1)
DIGEST_RETRY = timedelta(minutes=15)
DELIVERY_BATCH = 100
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


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
    return WebhookGuard(settings.webhook_allow_hosts)


# Wake-up calls for the worker of each engine, so committed deliveries go out at once.
_wakers: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = weakref.WeakKeyDictionary()
_WAKE_PENDING = "copymark.notifications.wake_pending"


def attach_waker(engine: Engine, wake: Callable[[], None]) -> None:
    """Call `wake` after every commit on `engine` that queued a delivery."""
    _wakers[engine] = wake


def detach_waker(engine: Engine) -> None:
    _wakers.pop(engine, None)


def _wake_after_commit(session: Session) -> None:
    if session.info.get(_WAKE_PENDING):
        return
    session.info[_WAKE_PENDING] = True
    bind = session.get_bind()

    @event.listens_for(session, "after_commit", once=True)
    def _wake(_session: Session) -> None:
        session.info.pop(_WAKE_PENDING, None)
        wake = _wakers.get(bind) if isinstance(bind, Engine) else None
        if wake is not None:
            wake()


def _one_line(text: str, limit: int) -> str:
    cleaned = _CONTROL_CHARACTERS.sub(" ", text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def notify(  # noqa: PLR0917 - the positional form other contexts call
    session: Session,
    user: User,
    kind: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
) -> Notification:
    """Record a notification in the user's inbox and queue its email and webhooks.

    Email follows the user's preference (immediate, daily digest or off); every active webhook
    endpoint gets a delivery. Nothing is sent before the caller's transaction commits.
    """
    if not kind or len(kind) > MAX_KIND or _CONTROL_CHARACTERS.search(kind):
        raise ValueError(f"notification kind must be 1-{MAX_KIND} printable characters")
    user_id = persisted_id(user)
    content = dict(payload or {})
    json.dumps(content)  # a payload that cannot be serialised fails here, not in the worker
    now = utcnow()
    notification = Notification(
        user_id=user_id,
        kind=kind,
        subject=_one_line(subject, MAX_SUBJECT),
        body=body[:MAX_BODY],
        payload=content,
        created_at=now,
    )
    session.add(notification)
    session.flush()
    notification_id = persisted_id(notification)
    preference = repository.preference_of(session, user_id)
    deliveries: list[Delivery] = []
    if preference.email_mode == EmailMode.IMMEDIATE:
        deliveries.append(_delivery(notification_id, user_id, Channel.EMAIL, now))
    elif preference.email_mode == EmailMode.DAILY:
        held = _delivery(notification_id, user_id, Channel.EMAIL, now)
        held.status = DeliveryStatus.HELD_FOR_DIGEST
        held.next_attempt_at = None
        deliveries.append(held)
        if preference.next_digest_at is None:
            preference.next_digest_at = now + DIGEST_PERIOD
            session.add(preference)
    deliveries.extend(
        _delivery(notification_id, user_id, Channel.WEBHOOK, now, endpoint.id)
        for endpoint in repository.active_endpoints(session, user_id)
    )
    session.add_all(deliveries)
    session.flush()
    if any(delivery.status == DeliveryStatus.PENDING for delivery in deliveries):
        _wake_after_commit(session)
    return notification


def _delivery(
    notification_id: int,
    user_id: int,
    channel: Channel,
    now: datetime,
    endpoint_id: int | None = None,
) -> Delivery:
    return Delivery(
        notification_id=notification_id,
        user_id=user_id,
        channel=channel,
        endpoint_id=endpoint_id,
        next_attempt_at=now,
        created_at=now,
    )


def list_inbox(
    session: Session,
    user: User,
    *,
    unread_only: bool = False,
    limit: int = 50,
    before_id: int | None = None,
) -> Sequence[Notification]:
    """The user's notifications, newest first; page with before_id."""
    return repository.list_notifications(
        session, user, unread_only=unread_only, limit=limit, before_id=before_id
    )


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read; the first read time is kept."""
    notification = repository.owned_notification(session, user, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.add(notification)
        session.flush()
    return notification


def mark_all_read(session: Session, user: User) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    now = utcnow()
    unread = repository.unread_notifications(session, user)
    for notification in unread:
        notification.read_at = now
    session.add_all(unread)
    session.flush()
    return len(unread)


def email_mode_of(session: Session, user: User) -> EmailMode:
    return repository.preference_of(session, persisted_id(user)).email_mode


def set_email_mode(session: Session, user: User, mode: EmailMode) -> EmailMode:
    """Change how the user gets email; items held for a digest follow the new mode."""
    user_id = persisted_id(user)
    preference = repository.preference_of(session, user_id)
    now = utcnow()
    held = repository.held_deliveries(session, user_id)
    if mode == EmailMode.IMMEDIATE:
        for delivery in held:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now
        if held:
            _wake_after_commit(session)
    elif mode == EmailMode.OFF:
        for delivery in held:
            delivery.status = DeliveryStatus.CANCELLED
    if mode == EmailMode.DAILY:
        preference.next_digest_at = preference.next_digest_at or (now + DIGEST_PERIOD)
    else:
        preference.next_digest_at = None
    preference.email_mode = mode
    session.add(preference)
    session.add_all(held)
    session.flush()
    return mode


def register_webhook(
    session: Session, user: User, guard: WebhookGuard, url: str, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret, which is shown only this once."""
    user_id = persisted_id(user)
    if len(repository.active_endpoints(session, user_id)) >= MAX_ENDPOINTS_PER_USER:
        raise Conflict(f"at most {MAX_ENDPOINTS_PER_USER} webhook endpoints per account")
    # Checked now so the user hears of a bad URL at once; checked again at every delivery,
    # because what a name resolves to can change.
    target = asyncio.run(guard.check(url))
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        user_id=user_id, url=str(target.url), description=_one_line(description, 200), secret=secret
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def list_webhooks(session: Session, user: User) -> Sequence[WebhookEndpoint]:
    return repository.active_endpoints(session, persisted_id(user))


def remove_webhook(session: Session, user: User, endpoint_id: int) -> None:
    """Disable the endpoint; its attempt log is kept and its queued deliveries are cancelled."""
    endpoint = repository.owned_endpoint(session, user, endpoint_id)
    endpoint.disabled_at = utcnow()
    session.add(endpoint)
    session.flush()


def webhook_attempts(
    session: Session, user: User, endpoint_id: int, limit: int = 100
) -> Sequence[tuple[DeliveryAttempt, Delivery]]:
    """The latest delivery attempts to one of the user's endpoints, newest first."""
    endpoint = repository.owned_endpoint(session, user, endpoint_id)
    return repository.endpoint_attempts(session, endpoint, limit)


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
            outcomes[item.delivery_id] = _send_email(mailer, item, settings.base_url)
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
                    notification=notification,
                    endpoint_url=endpoint.url if active and endpoint else None,
                    endpoint_secret=endpoint.secret if active and endpoint else None,
                )
            )
        session.commit()
    return claimed


def _send_email(mailer: Mailer | None, item: _Claimed, base_url: str) -> AttemptOutcome:
    if mailer is None:
        return AttemptOutcome(
            None, "email is disabled: no SMTP host is configured", 0.0, permanent=True
        )
    notification = item.notification
    text = (
        f"{notification.body}\n\n"
        f"Your notifications: {base_url.rstrip('/')}/notifications\n"
        "Change how you receive email in your notification preferences.\n"
    )
    message = compose(item.recipient, f"Copymark: {notification.subject}", text)
    return _timed_send(mailer, message)


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
        message = compose(user.email, _digest_subject(len(items)), _digest_text(items, services))
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


def _digest_subject(count: int) -> str:
    return f"Copymark daily digest: {count} new notification{'s' if count != 1 else ''}"


def _digest_text(items: list[Notification], services: NotificationServices) -> str:
    sections = [
        f"{item.created_at:%Y-%m-%d %H:%M} UTC - {item.subject}\n{item.body}" for item in items
    ]
    footer = f"Your notifications: {services.settings.base_url.rstrip('/')}/notifications\n"
    return "\n\n".join([*sections, footer])
