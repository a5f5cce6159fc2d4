"""Registration with COPYMARK_LOG_SEQUENCED: works' leaves go through the log's sequencer.

Uploads from concurrent clients commit without taking the log's lock; the sequencer appends
their leaves in batches and writes each index onto its work, and the replies wait for it. A work
registered while no sequencer runs is kept, says it is waiting, and gets its index once one
starts. A batch whose write-back fails appends nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlmodel import select

from frontend.services import Services
from frontend.settings import Settings
from registry.certificates import verify_certificate
from registry.log.models import LogSubmission
from registry.log.sequencer import Sequencer
from registry.log.store import AttestationLog, verify_log
from registry.models import Work
from registry.repository import record_sequenced_log_indexes
from tests.factories import Account, random_png
from tests.functional.api.test_works_api import upload as upload_work
from tests.functional.pages.test_pages import sign_in
from tests.functional.pages.test_pages_designer_works import upload as upload_on_page
from tests.support.workers import wait_for

pytestmark = pytest.mark.postgres

CLIENTS = 6
UPLOADS_EACH = 3


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """PostgreSQL only: the sequencer's lease is an advisory lock."""
    return postgres_database_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A reply waits a second at most, so a test without a sequencer sees the waiting state."""
    return settings.model_copy(update={"log_sequenced": True, "log_sequenced_wait_s": 1.0})


@contextmanager
def sequencing(services: Services) -> Iterator[None]:
    """The log's sequencer on a thread, as `copymark log sequence` runs it, until the block ends."""
    sequencer = services.log_sequencer(batch_size=64, batch_wait_s=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=sequencer.run, args=(stop,))
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=30)


def upload(client: TestClient, account: Account, seed: int) -> dict[str, object]:
    response = upload_work(client, account, random_png(seed), f"{seed}.png")
    assert response.status_code == 201, response.text
    return dict(response.json())


def stored_log_index(services: Services, work_id: int) -> int | None:
    with services.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        return work.log_index


def certificate_verifies(
    client: TestClient, account: Account, work_id: int, services: Services
) -> bool:
    response = client.get(f"/api/v1/works/{work_id}/certificate", headers=account.headers)
    assert response.status_code == 200, response.text
    return verify_certificate(response.json(), services.signer.public_key).valid


def log_verifies(services: Services) -> bool:
    with services.session() as session:
        return verify_log(session, services.signer.public_key).ok


def test_concurrent_uploads_get_distinct_indexes_from_the_sequencer_and_their_certificates_verify(
    client: TestClient, alice: Account, services: Services
) -> None:
    with sequencing(services), ThreadPoolExecutor(CLIENTS) as pool:
        replies = list(
            pool.map(lambda seed: upload(client, alice, seed), range(CLIENTS * UPLOADS_EACH))
        )
    indexes = [reply["log_index"] for reply in replies]
    assert all(isinstance(index, int) for index in indexes), indexes
    assert len(set(indexes)) == len(indexes)
    with services.session() as session:
        tree_size = AttestationLog(session).tree_size()
        submissions = session.exec(select(LogSubmission)).all()
    assert set(indexes) <= set(range(tree_size))
    assert len(submissions) == len(replies)
    assert all(submission.leaf_index is not None for submission in submissions)
    for reply in replies:
        work_id = int(str(reply["work_id"]))
        assert stored_log_index(services, work_id) == reply["log_index"]
        assert certificate_verifies(client, alice, work_id, services)
    assert log_verifies(services)


def test_a_work_registered_while_no_sequencer_runs_waits_in_words_then_gets_its_index(
    client: TestClient, alice: Account, services: Services
) -> None:
    reply = upload(client, alice, 7)
    work_id = int(str(reply["work_id"]))
    assert reply["status"] == "registered"
    assert reply["log_index"] is None
    certificate = client.get(f"/api/v1/works/{work_id}/certificate", headers=alice.headers)
    assert certificate.status_code == 503
    assert "waiting for the attestation log to append its entry" in certificate.text
    page = client.get(f"/works/{work_id}", headers=alice.headers)
    assert page.status_code == 200
    assert "waiting for the log to append it" in page.text
    assert 'id="certificate-pending"' in page.text
    chinese = client.get(f"/works/{work_id}?lang=zh", headers=alice.headers)
    assert "等待日志追加" in chinese.text
    # The find-copies page shows the match, its log entry pending.
    found = client.post("/find?lang=en", files={"file": ("same.png", random_png(7))})
    assert f"/verify/{work_id}" in found.text
    assert "log entry pending" in found.text

    with sequencing(services):
        wait_for(
            lambda: stored_log_index(services, work_id) is not None, 30, "the work's log index"
        )
    assert certificate_verifies(client, alice, work_id, services)
    page = client.get(f"/works/{work_id}", headers=alice.headers)
    assert 'id="certificate-pending"' not in page.text
    assert log_verifies(services)


def test_the_upload_page_says_the_log_is_appending_the_entry_in_each_language(
    client: TestClient, alice: Account
) -> None:
    token = sign_in(client, alice)
    english = upload_on_page(client, token, "blocks.png", random_png(31))
    assert 'data-status="registered"' in english
    assert "the attestation log is appending its entry" in english
    chinese = upload_on_page(client, token, "other-blocks.png", random_png(32), "zh-CN")
    assert "存证日志正在追加其条目" in chinese


def test_a_batch_whose_write_back_fails_appends_nothing_and_is_appended_by_the_next_try(
    client: TestClient, alice: Account, services: Services
) -> None:
    failures = {"left": 1}

    def failing_once(connection: Connection, submission_ids: Sequence[int]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the write-back's connection dropped")
        record_sequenced_log_indexes(connection, submission_ids)

    reply = upload(client, alice, 11)
    work_id = int(str(reply["work_id"]))
    failing = Sequencer(
        services.engine, services.signer, batch_wait_s=0.0, on_sequenced=(failing_once,)
    )
    with pytest.raises(RuntimeError, match="connection dropped"):
        failing.run(threading.Event())
    with services.session() as session:
        assert AttestationLog(session).tree_size() == 0
        assert session.exec(select(LogSubmission.leaf_index)).all() == [None]
    assert stored_log_index(services, work_id) is None

    with sequencing(services):
        wait_for(lambda: stored_log_index(services, work_id) == 0, 30, "the work's log index")
    assert certificate_verifies(client, alice, work_id, services)
    assert log_verifies(services)
