"""An app on a fresh database per test, driven through FastAPI's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import Account, make_account
from tests.support.receivers import SmtpInbox


@pytest.fixture
def settings(tmp_path: Path, database_url: str, model_cache: Path) -> Settings:
    return Settings(
        environment="test",
        home=tmp_path / "home",
        database_url=database_url,
        secret_key="test-secret-key",
        models_dir=model_cache,
        # A test that wants the watch loop turns it on.
        run_watches=False,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    wiring = Services(settings)
    wiring.initialise()
    yield wiring
    wiring.close()


@pytest.fixture
def notifying_services(settings: Settings, smtp_inbox: tuple[SmtpInbox, int]) -> Iterator[Services]:
    """Services whose email goes to the local SMTP server and whose webhooks may hit loopback."""
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox[1],
            "smtp_from": "Copymark <alerts@copymark.test>",
            "webhook_allow_hosts": ["127.0.0.1"],
            "webhook_timeout_s": 5.0,
        }
    )
    wiring = Services(configured)
    wiring.initialise()
    yield wiring
    wiring.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture
def mailing_client(notifying_services: Services) -> Iterator[TestClient]:
    """The app sending its email (verification links included) to the loopback SMTP server."""
    with TestClient(create_app(services=notifying_services)) as test_client:
        yield test_client


@pytest.fixture
def account_inbox() -> SmtpInbox | None:
    """Where the app mails sign-up verification links: nowhere, unless a module's app sends
    email (override with `inbox`), and then alice and bob verify their addresses from it."""
    return None


@pytest.fixture
def alice(client: TestClient, account_inbox: SmtpInbox | None) -> Account:
    return make_account(client, "alice@example.com", inbox=account_inbox)


@pytest.fixture
def bob(client: TestClient, account_inbox: SmtpInbox | None) -> Account:
    return make_account(
        client, "bob@example.com", roles=["creator", "rights_holder"], inbox=account_inbox
    )
