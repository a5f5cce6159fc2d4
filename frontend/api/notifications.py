"""Notification endpoints: the inbox, email preferences and webhook endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from registry.bounds import RecordId
from registry.notifications import service
from registry.notifications.delivery import webhook_guard_for
from registry.notifications.models import Notification, WebhookEndpoint
from registry.notifications.schemas import (
    DeliveryAttemptPublic,
    MarkedRead,
    NotificationPublic,
    PreferencesPublic,
    PreferencesUpdate,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)

router = APIRouter(tags=["notifications"])


def notification_public(notification: Notification) -> NotificationPublic:
    return NotificationPublic.model_validate(notification, from_attributes=True)


def webhook_public(endpoint: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic.model_validate(endpoint, from_attributes=True)


@router.get("/notifications")
def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: RecordId | None = None,
) -> list[NotificationPublic]:
    """The caller's notifications, newest first; page with before_id."""
    found = service.list_inbox(
        session, user, unread_only=unread_only, limit=limit, before_id=before_id
    )
    return [notification_public(notification) for notification in found]


@router.post("/notifications/read-all")
def mark_all_read(user: CurrentUser, session: SessionDep) -> MarkedRead:
    return MarkedRead(marked_read=service.mark_all_read(session, user))


@router.post("/notifications/{notification_id}/read")
def mark_read(
    notification_id: RecordId, user: CurrentUser, session: SessionDep
) -> NotificationPublic:
    return notification_public(service.mark_read(session, user, notification_id))


@router.get("/notification-preferences")
def read_preferences(user: CurrentUser, session: SessionDep) -> PreferencesPublic:
    return PreferencesPublic(email_mode=service.email_mode_of(session, user))


@router.put("/notification-preferences")
def update_preferences(
    body: PreferencesUpdate, user: CurrentUser, session: SessionDep
) -> PreferencesPublic:
    return PreferencesPublic(email_mode=service.set_email_mode(session, user, body.email_mode))


@router.post("/webhooks", status_code=201)
def register_webhook(
    body: WebhookCreate, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> WebhookCreated:
    """Register an endpoint; the response holds its signing secret, shown only this once."""
    guard = webhook_guard_for(services.settings)
    endpoint, secret = service.register_webhook(session, user, guard, body.url, body.description)
    return WebhookCreated(**webhook_public(endpoint).model_dump(), secret=secret)


@router.get("/webhooks")
def list_webhooks(user: CurrentUser, session: SessionDep) -> list[WebhookPublic]:
    return [webhook_public(endpoint) for endpoint in service.list_webhooks(session, user)]


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def remove_webhook(endpoint_id: RecordId, user: CurrentUser, session: SessionDep) -> Response:
    service.remove_webhook(session, user, endpoint_id)
    return Response(status_code=204)


@router.get("/webhooks/{endpoint_id}/attempts")
def webhook_attempts(
    endpoint_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryAttemptPublic]:
    """The latest delivery attempts to the endpoint, newest first."""
    return [
        DeliveryAttemptPublic(
            delivery_id=attempt.delivery_id,
            notification_id=delivery.notification_id,
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            delivery_status=delivery.status,
        )
        for attempt, delivery in service.webhook_attempts(session, user, endpoint_id, limit)
    ]
