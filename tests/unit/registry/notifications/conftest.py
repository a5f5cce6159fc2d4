"""Fixtures: two users on services that deliver to the local SMTP server and webhook receiver."""

from __future__ import annotations

import pytest

from frontend.services import Services
from registry.accounts import create_user
from registry.models import User


def new_user(services: Services, email: str) -> User:
    with services.session() as session:
        user = create_user(session, email=email, password="correct horse battery")
        session.commit()
        return user


@pytest.fixture
def alice(notifying_services: Services) -> User:
    return new_user(notifying_services, "alice@example.com")


@pytest.fixture
def bob(notifying_services: Services) -> User:
    return new_user(notifying_services, "bob@example.com")
