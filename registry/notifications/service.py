"""Notification use cases: notify, the inbox and its read marks, email mode, webhook endpoints.

Invariant: nothing leaves the system for a transaction that rolls back. `notify` only writes
rows in the caller's transaction (an outbox) and asks the delivery worker to wake once it
commits; `delivery` sends what committed rows ask for. Use cases take the session and the acting
user and never commit.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from registry.errors import Conflict
from registry.messages import N_, Message, Param, params_to_json
from registry.models import User, persisted_id, utcnow
from registry.notifications import repository
from registry.notifications.delivery import DIGEST_PERIOD, queue_delivery_round
from registry.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailMode,
    Notification,
    WebhookEndpoint,
)
from registry.notifications.texts import MAX_BODY, MAX_SUBJECT, has_control_characters, one_line
from registry.notifications.webhooks import WebhookGuard

MAX_KIND = 64
MAX_ENDPOINTS_PER_USER = 10


def notify(  # noqa: PLR0917 - the positional form other contexts call
    session: Session,
    user: User,
    kind: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
    *,
    params: Mapping[str, Param] | None = None,
) -> Notification:
    """Record a notification in the user's inbox and queue its email and webhooks.

    `subject` and `body` are English templates marked `N_`, their `%(name)s` placeholders
    filled from `params` (a literal percent sign written `%%` when there are params); each
    reader gets them in their own language: the inbox in the viewer's, email in the
    recipient's stored one. Email follows the user's preference (immediate, daily digest or
    off); every active webhook endpoint gets a delivery. Nothing is sent before the caller's
    transaction commits.
    """
    if not kind or len(kind) > MAX_KIND or has_control_characters(kind):
        raise ValueError(f"notification kind must be 1-{MAX_KIND} printable characters")
    user_id = persisted_id(user)
    content = dict(payload or {})
    json.dumps(content)  # a payload that cannot be serialised fails here, not in the worker
    values = params_to_json(params or {})
    json.dumps(values)
    now = utcnow()
    notification = Notification(
        user_id=user_id,
        kind=kind,
        # Rendered now, so that a template that does not fit its values fails in the caller.
        subject=one_line(Message(subject, params or {}).english(), MAX_SUBJECT),
        body=Message(body, params or {}).english()[:MAX_BODY],
        payload=content,
        subject_template=subject,
        body_template=body,
        message_params=values,
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
        queue_delivery_round(session, f"notification:{notification_id}")
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


def unread_count(session: Session, user: User) -> int:
    """How many of the user's notifications are unread, for the bell."""
    return repository.unread_count(session, persisted_id(user))


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
            queue_delivery_round(session, f"released:{persisted_id(held[0])}")
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
        raise Conflict(
            N_("at most %(count)s webhook endpoints per account"), count=MAX_ENDPOINTS_PER_USER
        )
    # Checked now so the user hears of a bad URL at once; checked again at every delivery,
    # because what a name resolves to can change.
    target = asyncio.run(guard.check(url))
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        user_id=user_id, url=str(target.url), description=one_line(description, 200), secret=secret
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
