"""Concurrent searches and uploads against a real server: nothing fails with a 5xx, health
answers while they run, and work beyond the server's capacity is refused in words with
Retry-After instead of queueing without limit.

SQLite only (the embedded default), whose single write lock is what concurrency contends for.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import Account, make_account, photo_jpeg, random_png
from tests.support.live_server import live_server

REFUSALS = {429, 503}
HEALTH_BOUND_S = 5.0  # generous: the server used to stall for 30 s and more


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "copymark.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def register(client: TestClient | httpx.Client, account: Account, data: bytes) -> int:
    response = client.post(
        "/api/v1/works", headers=account.headers, files={"file": ("w.jpg", data)}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["work_id"])


def test_a_search_answers_while_another_transaction_holds_the_write_lock(
    client: TestClient, alice: Account, services: Services
) -> None:
    work_id = register(client, alice, photo_jpeg("coffee", quality=95))
    query = {"file": ("q.jpg", photo_jpeg("coffee", quality=40, max_side=400))}
    database = services.settings.resolved_database_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a long write transaction elsewhere: searches only read
    try:
        anonymous = client.post("/api/v1/match", files=query)
        signed_in = client.post("/api/v1/match", files=query, headers=alice.headers)
        page = client.post("/find", files=query)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    for answer in (anonymous, signed_in):
        assert answer.status_code == 200, answer.text
        assert answer.json()["matches"][0]["work_id"] == work_id
    assert page.status_code == 200


@dataclass
class Outcome:
    status: int | None
    retry_after: str | None
    detail: str


def _post(base_url: str, path: str, data: bytes, headers: dict[str, str]) -> Outcome:
    try:
        response = httpx.post(
            base_url + path, files={"file": ("f.jpg", data)}, headers=headers, timeout=120
        )
    except httpx.HTTPError as error:
        return Outcome(None, None, repr(error))
    detail = response.json().get("detail", "") if response.status_code >= 400 else ""
    return Outcome(response.status_code, response.headers.get("retry-after"), str(detail))


def _run_load(
    base_url: str, matches: list[bytes], uploads: list[bytes], uploader: Account
) -> tuple[list[Outcome], list[tuple[int, float]]]:
    """Send every match and upload at once while polling /healthz; returns outcomes and the
    health answers (status, seconds) seen meanwhile."""
    health: list[tuple[int, float]] = []
    done = threading.Event()

    def poll_health() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as poller:
            while not done.is_set():
                started = time.monotonic()
                status = poller.get("/healthz").status_code
                health.append((status, time.monotonic() - started))
                time.sleep(0.05)

    poller = threading.Thread(target=poll_health)
    poller.start()
    start = threading.Barrier(len(matches) + len(uploads))

    def send(path: str, data: bytes, headers: dict[str, str]) -> Outcome:
        start.wait()
        return _post(base_url, path, data, headers)

    with ThreadPoolExecutor(len(matches) + len(uploads)) as clients:
        futures = [clients.submit(send, "/api/v1/match", data, {}) for data in matches]
        futures += [
            clients.submit(send, "/api/v1/works", data, uploader.headers) for data in uploads
        ]
        outcomes = [future.result() for future in futures]
    done.set()
    poller.join()
    return outcomes, health


def _assert_answered_in_words(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        assert outcome.status is not None, f"no answer: {outcome.detail}"
        if outcome.status in REFUSALS:
            assert outcome.retry_after is not None
            assert int(outcome.retry_after) >= 1
            assert outcome.detail.endswith("."), outcome.detail
        else:
            assert outcome.status in (200, 201), f"{outcome.status}: {outcome.detail}"


def test_health_answers_while_searches_and_uploads_run(services: Services) -> None:
    with live_server(create_app(services=services)) as base_url:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            alice = make_account(client, "alice@example.com")  # type: ignore[arg-type]
            for name in ("coffee", "rocket", "chelsea"):
                register(client, alice, photo_jpeg(name, quality=95))
        matches = [
            photo_jpeg(name, quality=50, max_side=800)
            for name in ("coffee", "rocket", "chelsea", "coffee", "rocket", "chelsea", "coffee")
        ] + [random_png(7, side=800)]
        uploads = [random_png(100 + seed, side=800) for seed in range(2)]
        outcomes, health = _run_load(base_url, matches, uploads, alice)
    _assert_answered_in_words(outcomes)
    assert any(outcome.status == 200 for outcome in outcomes[: len(matches)])
    assert health, "health was never polled"
    assert all(status == 200 for status, _ in health)
    assert max(seconds for _, seconds in health) < HEALTH_BOUND_S


@pytest.fixture
def small_server(settings: Settings) -> Iterator[Services]:
    """One worker and one waiting place: most of a burst must be refused."""
    wiring = Services(settings.model_copy(update={"compute_workers": 1, "compute_queue": 1}))
    wiring.initialise()
    yield wiring
    wiring.close()


def test_a_burst_beyond_capacity_is_refused_with_retry_after(small_server: Services) -> None:
    with live_server(create_app(services=small_server)) as base_url:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            alice = make_account(client, "alice@example.com")  # type: ignore[arg-type]
            register(client, alice, photo_jpeg("coffee", quality=95))
        matches = [photo_jpeg("coffee", quality=40 + seed, max_side=800) for seed in range(8)]
        outcomes, health = _run_load(base_url, matches, [], alice)
    _assert_answered_in_words(outcomes)
    statuses = [outcome.status for outcome in outcomes]
    assert statuses.count(503) >= 1, statuses
    assert statuses.count(200) >= 2, statuses
    assert all(status == 200 for status, _ in health)


def test_health_answers_while_a_report_waits_for_the_write_lock(services: Services) -> None:
    database = services.settings.resolved_database_url.removeprefix("sqlite:///")
    with live_server(create_app(services=services)) as base_url:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            brand = make_account(client, "brand@example.com", roles=["brand"])  # type: ignore[arg-type]
        writer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        writer.execute("BEGIN IMMEDIATE")  # held while the report's transaction begins
        release = threading.Timer(8.0, lambda: writer.execute("ROLLBACK"))
        release.start()
        with ThreadPoolExecutor(1) as reporter:
            report = reporter.submit(
                httpx.post,
                f"{base_url}/api/v1/grants/999/sales-reports/csv?report_id=r1&currency=EUR",
                content=b"units,net_revenue,channel,territory\n1,1.00,web,FR\n",
                headers={**brand.headers, "content-type": "text/csv"},
                timeout=120,
            )
            time.sleep(1.0)
            started = time.monotonic()
            health = httpx.get(f"{base_url}/healthz", timeout=120)
            waited = time.monotonic() - started
            release.join()
            answer = report.result()
        writer.close()
    assert health.status_code == 200
    assert waited < 4.0, f"/healthz waited {waited:.1f} s for another request's write lock"
    assert answer.status_code == 404, answer.text
