"""Notification tables: the in-app inbox, delivery preferences, webhook endpoints, the outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Enum, Index, Text
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class EmailMode(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    OFF = "off"


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    HELD_FOR_DIGEST = "held_for_digest"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _enum_column(kind: type[StrEnum], length: int) -> Column[Any]:
    """Stored as its lowercase value in a VARCHAR: no database enum type to alter later."""
    return Column(
        Enum(kind, native_enum=False, length=length, values_callable=_enum_values),
        nullable=False,
    )


def _enum_values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


class Notification(SQLModel, table=True):
    """One inbox item. `subject` and `body` are its English text; a notification written from
    templates also keeps them and their values, so that each reader gets it in their language
    (rows from before templates have none and are shown as stored)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(max_length=64)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=20000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    subject_template: str | None = Field(default=None, sa_type=Text)
    body_template: str | None = Field(default=None, sa_type=Text)
    message_params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NotificationPreference(SQLModel, table=True):
    """How one user wants email; a user without a row gets immediate email."""

    __tablename__ = "notification_preferences"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    email_mode: EmailMode = Field(
        default=EmailMode.IMMEDIATE, sa_column=_enum_column(EmailMode, 16)
    )
    next_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    # The receiver verifies our HMAC with it, so we must be able to read it back; never listed.
    secret: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One notification to send over one channel (one webhook endpoint), retried until done."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notifications.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    channel: Channel = Field(sa_column=_enum_column(Channel, 16))
    endpoint_id: int | None = Field(default=None, foreign_key="webhook_endpoints.id", index=True)
    status: DeliveryStatus = Field(
        default=DeliveryStatus.PENDING, sa_column=_enum_column(DeliveryStatus, 20)
    )
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """The log of every try: what the other side answered, or why we could not reach it."""

    __tablename__ = "notification_delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="notification_deliveries.id", index=True)
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    duration_ms: float
