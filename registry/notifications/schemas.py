"""Request and response models of notifications; write models refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from registry.notifications.models import EmailMode


class NotificationPublic(BaseModel):
    id: int
    kind: str
    subject: str
    body: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class PreferencesPublic(BaseModel):
    email_mode: EmailMode


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email_mode: EmailMode


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)


class WebhookPublic(BaseModel):
    id: int
    url: str
    description: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """The only response that carries the signing secret; it is never shown again."""

    secret: str


class DeliveryAttemptPublic(BaseModel):
    delivery_id: int
    notification_id: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    delivery_status: str


class MarkedRead(BaseModel):
    marked_read: int = Field(ge=0, description="how many unread notifications were marked read")
