"""The outbox of tasks asked for by committed transactions, and the keys of completed tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, utcnow


class OutboxTask(SQLModel, table=True):
    """A task a committed transaction asked for; `relayed_at` is set once a queue accepted it."""

    __tablename__ = "task_outbox"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    task: str = Field(max_length=64)
    args: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    relayed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class CompletedTask(SQLModel, table=True):
    """A task key whose effect committed: a second delivery of the same key does nothing."""

    __tablename__ = "task_completed"

    key: str = Field(max_length=200, primary_key=True)
    task: str = Field(max_length=64)
    completed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
