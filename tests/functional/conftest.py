"""An app on a fresh database per test, driven through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from tests.factories import Account, make_account


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def alice(client: TestClient) -> Account:
    return make_account(client, "alice@example.com")


@pytest.fixture
def bob(client: TestClient) -> Account:
    return make_account(client, "bob@example.com", roles=["creator", "rights_holder"])
