"""Fixtures: a real SMTP server and a real webhook receiver on loopback, two accounts, an app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.accounts import create_user
from registry.models import User
from tests.factories import Account, make_account
from tests.registry.notifications.receivers import (
    ReceivedRequest,
    SmtpInbox,
    WebhookReceiver,
    free_port,
)


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/copymark")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(ReceivedRequest(dict(self.headers.items()), body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


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
    wiring.engine.dispose()


@pytest.fixture
def inbox(smtp_inbox: tuple[SmtpInbox, int]) -> SmtpInbox:
    return smtp_inbox[0]


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


@pytest.fixture
def client(notifying_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=notifying_services)) as test_client:
        yield test_client


@pytest.fixture
def alice_account(client: TestClient) -> Account:
    return make_account(client, "alice@example.com")


@pytest.fixture
def bob_account(client: TestClient) -> Account:
    return make_account(client, "bob@example.com")
