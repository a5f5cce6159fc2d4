"""Notification queries; every per-user lookup is scoped to its owner here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select

from registry.errors import NotFound
from registry.messages import N_
from registry.models import User
from registry.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailMode,
    Notification,
    NotificationPreference,
    WebhookEndpoint,
)


def owned_notification(session: Session, user: User, notification_id: int) -> Notification:
    """The user's notification; another user's id answers NotFound, as an unknown one would."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(N_("notification %(notification)s not found"), notification=notification_id)
    return notification


def list_notifications(
    session: Session, user: User, *, unread_only: bool, limit: int, before_id: int | None
) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    if before_id is not None:
        query = query.where(col(Notification.id) < before_id)
    return session.exec(query.order_by(col(Notification.id).desc()).limit(limit)).all()


# Built once: every signed-in page's bell asks.
_UNREAD_COUNT = (
    select(func.count())
    .select_from(Notification)
    .where(col(Notification.user_id) == bindparam("user_id"), col(Notification.read_at).is_(None))
)


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's notifications are unread (one indexed count)."""
    return session.exec(_UNREAD_COUNT, params={"user_id": user_id}).one()


def unread_notifications(session: Session, user: User) -> Sequence[Notification]:
    return session.exec(
        select(Notification).where(
            Notification.user_id == user.id, col(Notification.read_at).is_(None)
        )
    ).all()


def active_endpoints(session: Session, user_id: int) -> Sequence[WebhookEndpoint]:
    return session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id, col(WebhookEndpoint.disabled_at).is_(None))
        .order_by(col(WebhookEndpoint.id))
    ).all()


def owned_endpoint(session: Session, user: User, endpoint_id: int) -> WebhookEndpoint:
    """The user's active endpoint; any other id answers NotFound."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user.id or endpoint.disabled_at is not None:
        raise NotFound(N_("webhook endpoint %(endpoint)s not found"), endpoint=endpoint_id)
    return endpoint


def endpoint_attempts(
    session: Session, endpoint: WebhookEndpoint, limit: int
) -> Sequence[tuple[DeliveryAttempt, Delivery]]:
    return session.exec(
        select(DeliveryAttempt, Delivery)
        .join(Delivery, col(Delivery.id) == DeliveryAttempt.delivery_id)
        .where(Delivery.endpoint_id == endpoint.id)
        .order_by(col(DeliveryAttempt.id).desc())
        .limit(limit)
    ).all()


def preference_of(session: Session, user_id: int) -> NotificationPreference:
    """The stored preference row, or an unsaved default one (immediate email)."""
    return session.get(NotificationPreference, user_id) or NotificationPreference(
        user_id=user_id, email_mode=EmailMode.IMMEDIATE
    )


def held_deliveries(session: Session, user_id: int) -> Sequence[Delivery]:
    return session.exec(
        select(Delivery)
        .where(Delivery.user_id == user_id, Delivery.status == DeliveryStatus.HELD_FOR_DIGEST)
        .order_by(col(Delivery.id))
    ).all()


def claim_due_deliveries(session: Session, now: datetime, limit: int) -> Sequence[Delivery]:
    """Pending deliveries whose time has come, locked so a second worker skips them."""
    return session.exec(
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, col(Delivery.next_attempt_at) <= now)
        .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def claim_due_digests(session: Session, now: datetime) -> Sequence[NotificationPreference]:
    """Daily-digest users whose digest time has come, locked so a second worker skips them."""
    return session.exec(
        select(NotificationPreference)
        .where(
            NotificationPreference.email_mode == EmailMode.DAILY,
            col(NotificationPreference.next_digest_at) <= now,
        )
        .with_for_update(skip_locked=True)
    ).all()
