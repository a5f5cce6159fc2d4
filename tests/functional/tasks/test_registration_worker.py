"""Registration on the `fingerprint` queue survives its worker being killed with SIGKILL mid-task.

`copymark register FOLDER --queue` stores three files and queues their registration through the
outbox; a real Celery worker process on Redis runs it. The worker is killed while it registers;
once the visibility timeout has passed, a second worker takes the unacknowledged task over.
Every work then exists once, with one log leaf, and `copymark log verify` passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import col

from frontend.services import Services, shared_embedder
from frontend.settings import Settings
from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.log.models import LogLeaf
from registry.models import Work, persisted_id
from tests.factories import random_png
from tests.support.workers import ROOT, Workers, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

TIME_LIMIT_S = 15.0
VISIBILITY_TIMEOUT_S = 20.0
UPLOADS = 3
CLI = (sys.executable, "-m", "frontend.cli")


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    return postgres_database_url


@pytest.fixture
def registering(
    broker: str, database_url: str, settings: Settings, services: Services
) -> Iterator[Workers]:
    # The embedding model is exported once into the shared cache, before any worker needs it.
    shared_embedder(settings.model_cache_dir)
    workers = Workers(
        broker,
        database_url,
        settings.home,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        environment={"COPYMARK_MODELS_DIR": str(settings.model_cache_dir)},
    )
    yield workers
    workers.stop_all()


def works(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(col(Work.sha256))).scalars())


def waiting_for_a_lock(engine: Engine) -> bool:
    """Whether some other session of this database waits for a lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        return bool(connection.execute(query).scalar_one())


def leaves(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(LogLeaf)).scalar_one())


def test_a_worker_killed_mid_registration_leaves_every_work_registered_once(
    *,
    settings: Settings,
    broker: str,
    registering: Workers,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "portfolio"
    folder.mkdir()
    for seed in range(UPLOADS):
        (folder / f"work-{seed}.png").write_bytes(random_png(seed))
    with unit_of_work(db_engine) as session:
        owner = create_user(session, email="ada@example.com", password="a long passphrase 42")
        owner_id = persisted_id(owner)
    leaves_before = leaves(db_engine)
    # The producer keeps the default visibility timeout, above registration's own time limit.
    producer = dict(registering.environment)
    del producer["COPYMARK_TASK_VISIBILITY_TIMEOUT_S"]
    queued = subprocess.run(
        [*CLI, "register", str(folder), "--owner", "ada@example.com", "--queue", "--json"],
        cwd=ROOT,
        env=producer,
        capture_output=True,
        text=True,
        check=False,
    )
    assert queued.returncode == 0, queued.stderr
    lines = [json.loads(line) for line in queued.stdout.splitlines()]
    assert [line["status"] for line in lines] == ["queued"] * UPLOADS
    digests = [line["sha256"] for line in lines]
    assert works(db_engine) == []

    # The test holds the works table against writes, so the first worker provably waits inside
    # its registration's transaction when it is killed.
    with db_engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE works IN EXCLUSIVE MODE"))
        first = registering.start(str(TIME_LIMIT_S), "register")
        log = settings.home / "worker-0.log"
        wait_for(
            lambda: "copymark.register[" in log.read_text(errors="replace"),
            60,
            "the first worker to take a registration",
            registering.log_tails,
        )
        taken_at = time.monotonic()
        wait_for(
            lambda: waiting_for_a_lock(db_engine),
            120,
            "the first worker to reach the works table inside its registration",
            registering.log_tails,
        )
        registering.kill(first)
        blocker.rollback()
    assert works(db_engine) == [], "the killed worker's registration must leave nothing"

    time.sleep(max(0.0, taken_at + VISIBILITY_TIMEOUT_S + 1 - time.monotonic()))
    registering.start(str(TIME_LIMIT_S), "register")
    wait_for(
        lambda: len(works(db_engine)) >= UPLOADS,
        90,
        "the second worker to register every upload",
        registering.log_tails,
    )
    time.sleep(1)
    assert sorted(works(db_engine)) == sorted(digests)
    assert leaves(db_engine) == leaves_before + UPLOADS
    with db_engine.connect() as connection:
        owners = set(connection.execute(select(col(Work.owner_id))).scalars())
    assert owners == {owner_id}
    verified = subprocess.run(
        [*CLI, "log", "verify", "--json"],
        cwd=ROOT,
        env=registering.environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
