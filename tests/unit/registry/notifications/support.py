"""What the notification senders need (`NotificationServices`), on the per-test database.

A real implementation for tests, not a mock: real sessions on the migrated database of each
kind and settings that point email at the loopback SMTP server and let webhooks reach loopback.
The app's `Services` satisfies the same protocol; the functional tests cover that wiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.notifications.mail import Translate, in_english


@dataclass(frozen=True)
class LoopbackSettings:
    """The `NotificationSettings` the senders read."""

    smtp_host: str
    smtp_port: int
    smtp_from: str = "Copymark <alerts@copymark.test>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    webhook_allow_hosts: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    webhook_timeout_s: float = 5.0
    base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class LoopbackNotificationServices:
    """`NotificationServices`: settings and read-write sessions on one engine."""

    settings: LoopbackSettings
    engine: Engine
    mail_translate: Translate = in_english

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def with_settings(self, **changes: Any) -> LoopbackNotificationServices:
        """The same database with other settings, e.g. an unreachable SMTP port."""
        return replace(self, settings=replace(self.settings, **changes))
