"""Fixtures: two users, and senders that deliver to the local SMTP server and webhook receiver."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.models import User
from tests.support.receivers import SmtpInbox
from tests.unit.registry.notifications.support import (
    LoopbackNotificationServices,
    LoopbackSettings,
)


@pytest.fixture
def notifying_services(
    db_engine: Engine, smtp_inbox: tuple[SmtpInbox, int]
) -> LoopbackNotificationServices:
    """Email goes to the local SMTP server; webhooks may hit loopback."""
    return LoopbackNotificationServices(
        LoopbackSettings(smtp_host="127.0.0.1", smtp_port=smtp_inbox[1]), db_engine
    )


def new_user(services: LoopbackNotificationServices, email: str) -> User:
    with unit_of_work(services.session) as session:
        return create_user(session, email=email, password="correct horse battery")


@pytest.fixture
def alice(notifying_services: LoopbackNotificationServices) -> User:
    return new_user(notifying_services, "alice@example.com")


@pytest.fixture
def bob(notifying_services: LoopbackNotificationServices) -> User:
    return new_user(notifying_services, "bob@example.com")
