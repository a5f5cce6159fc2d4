"""A request's transaction ends before its response leaves the server: a client that reads back
what it just wrote (or follows the redirect a form answers with) sees it, and a commit that fails
is never answered as a success.

Against a real server, because an in-process test client waits for everything the app does,
including what runs after the response is sent. The commit is slowed (or failed) by a listener
on the database engine, as a slow or failing disk would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import event, func, select

from frontend.app import create_app
from frontend.services import Services
from registry.models import ApiKey
from tests.factories import Account
from tests.support.live_server import live_server

COMMIT_DELAY_S = 0.5


class CommitRefusedError(RuntimeError):
    """The database refused the commit, as a full disk or a lost connection would."""


@contextmanager
def on_commit(services: Services, action: Callable[[object], None]) -> Iterator[None]:
    event.listen(services.engine, "commit", action)
    try:
        yield
    finally:
        event.remove(services.engine, "commit", action)


def keys_named(services: Services, name: str) -> int:
    with services.read_session() as session:
        return session.scalar(select(func.count()).where(ApiKey.name == name)) or 0


def test_what_a_response_reports_written_is_already_committed(
    services: Services, alice: Account
) -> None:
    def slow_commit(_connection: object) -> None:
        time.sleep(COMMIT_DELAY_S)

    with (
        live_server(create_app(services=services)) as url,
        httpx.Client(base_url=url, headers=alice.headers, timeout=30) as http,
        on_commit(services, slow_commit),
    ):
        issued = http.post("/api/v1/api-keys", json={"name": "shop sync"})
        assert issued.status_code == 201, issued.text
        assert keys_named(services, "shop sync") == 1


def test_a_commit_that_fails_is_answered_as_a_failure_and_stores_nothing(
    services: Services, alice: Account
) -> None:
    def refuse(_connection: object) -> None:
        raise CommitRefusedError("disk full")

    with (
        live_server(create_app(services=services)) as url,
        httpx.Client(base_url=url, headers=alice.headers, timeout=30) as http,
    ):
        with on_commit(services, refuse):
            refused = http.post("/api/v1/api-keys", json={"name": "shop sync"})
        assert refused.status_code == 500
        assert refused.json()["detail"].startswith("Something went wrong on our side")
        assert refused.headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in refused.headers["content-security-policy"]
        assert keys_named(services, "shop sync") == 0
        retried = http.post("/api/v1/api-keys", json={"name": "shop sync"})
        assert retried.status_code == 201, retried.text
        assert keys_named(services, "shop sync") == 1
