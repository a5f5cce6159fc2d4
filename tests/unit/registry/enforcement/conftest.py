"""Alice's registered photo, alerts on it raised as a crawl raises them, and a mail server."""

from __future__ import annotations

import pytest

from registry.db import unit_of_work
from registry.models import User
from registry.notifications.mail import SmtpMailer
from registry.schemas import WorkMetadata
from registry.service import Upload
from tests.factories import photo_jpeg
from tests.support.receivers import SmtpInbox
from tests.unit.registry.enforcement.support import AlertMaker
from tests.unit.registry.monitoring.support import make_user
from tests.unit.registry.wiring import RegistryParts


@pytest.fixture
def alice(parts: RegistryParts) -> User:
    return make_user(parts, "alice@example.com")


@pytest.fixture
def bob(parts: RegistryParts) -> User:
    return make_user(parts, "bob@example.com")


@pytest.fixture
def alerts(parts: RegistryParts, alice: User) -> AlertMaker:
    """Alice registered a photo; `alerts.alert(page_url)` raises a confirmed alert on a copy."""
    with unit_of_work(parts.session) as session:
        outcome = parts.registrar.register(
            session, alice, Upload(photo_jpeg("coffee"), "coffee.jpg", WorkMetadata(title="Cup"))
        )
    return AlertMaker(parts, alice, outcome.work)


@pytest.fixture
def mailer(smtp_inbox: tuple[SmtpInbox, int]) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", smtp_inbox[1], "Copymark <notices@copymark.test>")
