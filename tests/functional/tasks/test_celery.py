"""Background work on a real Redis and real Celery worker processes, as `copymark worker` runs.

The worker runs the probe task (tests/support/task_probe.py), whose starts are counted in a file
and whose committed effects in a table, so a run that happened but left no effect shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.models import User
from registry.notifications.service import notify
from registry.tasks.celery_queue import CeleryQueue
from registry.tasks.outbox import enqueue, relay
from tests.factories import make_account
from tests.support.receivers import SmtpInbox
from tests.support.task_probe import (
    PROBE_TASK,
    PROBE_TIME_LIMIT_S,
    PROBE_VISIBILITY_TIMEOUT_S,
    effects,
    starts,
)
from tests.support.workers import ROOT, Workers, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def waiting_in_redis(broker: str) -> int:
    client = redis.Redis.from_url(broker)
    try:
        return int(client.llen("evidence"))
    finally:
        client.close()


def test_only_a_committed_transaction_reaches_the_worker(
    sessions: Callable[[], Session],
    queue: CeleryQueue,
    broker: str,
    workers: Workers,
    db_engine: Engine,
) -> None:
    with sessions() as session:
        enqueue(session, PROBE_TASK, {"mark": "rolled-back"}, "probe:rolled-back")
        session.rollback()
    assert relay(sessions, queue) == 0
    assert waiting_in_redis(broker) == 0
    with sessions() as session:
        enqueue(session, PROBE_TASK, {"mark": "committed"}, "probe:committed")
        session.commit()
    assert relay(sessions, queue) == 1
    assert waiting_in_redis(broker) == 1
    workers.start(str(PROBE_TIME_LIMIT_S))
    wait_for(lambda: effects(db_engine) == ["committed"], 60, "the committed task to run")


def test_a_key_submitted_twice_runs_once(
    queue: CeleryQueue, workers: Workers, db_engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "starts.txt"
    for _ in range(2):
        queue.submit(PROBE_TASK, {"mark": "twice", "starts_file": str(log)}, "probe:twice")
    queue.submit(PROBE_TASK, {"mark": "after", "starts_file": str(log)}, "probe:after")
    workers.start(str(PROBE_TIME_LIMIT_S))
    # One worker takes tasks in order, so once "after" ran, both deliveries of "twice" were seen.
    wait_for(lambda: "after" in effects(db_engine), 60, "the task submitted last")
    assert effects(db_engine) == ["twice", "after"]
    assert starts(log) == ["twice", "after"]


def test_a_worker_killed_mid_task_loses_nothing_and_the_effect_happens_once(
    queue: CeleryQueue, workers: Workers, db_engine: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "starts.txt"
    args = {"mark": "survivor", "starts_file": str(log), "sleep_s": 4}
    queue.submit(PROBE_TASK, args, "probe:survivor")
    first = workers.start(str(PROBE_TIME_LIMIT_S))
    wait_for(lambda: starts(log) == ["survivor"], 60, "the first worker to start the task")
    taken_at = time.monotonic()
    workers.kill(first)
    assert effects(db_engine) == []
    # A task left unacknowledged past the visibility timeout goes back to its queue at the next
    # sweep, which a worker makes as it starts and then only every ~100 s: start the
    # replacement once the timeout has passed, as an operator's restart would.
    time.sleep(max(0.0, taken_at + PROBE_VISIBILITY_TIMEOUT_S + 1 - time.monotonic()))
    workers.start(str(PROBE_TIME_LIMIT_S))
    wait_for(
        lambda: effects(db_engine) == ["survivor"],
        90,
        f"the task to be redelivered (runs started: {starts(log)})",
        workers.log_tails,
    )
    time.sleep(1)
    assert effects(db_engine) == ["survivor"]
    assert starts(log) == ["survivor", "survivor"]


@pytest.fixture
def celery_settings(settings: Settings, broker: str, smtp_inbox: tuple[SmtpInbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "task_broker_url": broker,
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox[1],
        }
    )


def test_the_app_hands_notifications_to_a_copymark_worker_that_emails_them(
    celery_settings: Settings, smtp_inbox: tuple[SmtpInbox, int], tmp_path: Path
) -> None:
    inbox, _port = smtp_inbox
    services = Services(celery_settings)
    services.initialise()
    environment = os.environ | {
        "COPYMARK_HOME": str(celery_settings.home),
        "COPYMARK_DATABASE_URL": celery_settings.resolved_database_url,
        "COPYMARK_TASK_BROKER_URL": celery_settings.task_broker_url,
        "COPYMARK_SMTP_HOST": "127.0.0.1",
        "COPYMARK_SMTP_PORT": str(celery_settings.smtp_port),
        "PYTHONPATH": str(ROOT),
    }
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "frontend.cli", "worker", "--queues", "notify"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with TestClient(create_app(services=services)) as client:
            alice = make_account(client, "alice@example.com")
            with services.session() as session:
                user = session.get(User, alice.user_id)
                assert user is not None
                notify(session, user, "alert.created", "Copy found", "A copy of your work", {})
                session.commit()
            wait_for(
                lambda: any(m["Subject"] == "Copymark: Copy found" for m in inbox.messages),
                60,
                "the worker to email the notification",
            )
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        services.close()
