"""Background work survives its servers failing: Redis restarted, the S3 server stopped a while.

Real servers on loopback (Debian's redis-server with append-only persistence, SeaweedFS) and
real `copymark worker`-style processes run the probe task (tests/support/task_probe.py): every
start is noted in a file, every committed effect is a row. A task lost shows as a missing row, a
task run twice as a second row, a half-written one as a row naming a blob that is not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bench.servers import RedisServer, SeaweedS3
from registry.blobs import blob_stores
from registry.tasks.celery_queue import CeleryQueue
from registry.tasks.models import OutboxTask
from registry.tasks.outbox import enqueue
from registry.tasks.relay import OutboxRelay
from tests.support.task_probe import (
    PROBE_TASK,
    PROBE_TIME_LIMIT_S,
    blobs_named,
    effects,
    starts,
)
from tests.support.workers import Workers, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

# Room for boto3's own retries against an endpoint that refuses (up to ~15 s) inside one try: a
# task that passes its time limit is acknowledged as failed, not tried again.
OUTAGE_TIME_LIMIT_S = 30.0


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """The scale-out column: PostgreSQL, with workers in other processes."""
    return postgres_database_url


@pytest.fixture
def relay_loop(
    sessions: Callable[[], Session], db_engine: Engine, queue: CeleryQueue
) -> Iterator[OutboxRelay]:
    """The serving process's relay, polling often so that a test need not wait for it."""
    loop = OutboxRelay(sessions, db_engine, queue, poll_interval_s=0.5)
    loop.start()
    yield loop
    loop.stop()


def commit_tasks(sessions: Callable[[], Session], marks: list[str], **args: object) -> None:
    """One use case's transaction asking for a probe task per mark."""
    with sessions() as session:
        for mark in marks:
            enqueue(session, PROBE_TASK, {"mark": mark, **args}, f"probe:{mark}")
        session.commit()


def unrelayed(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(
            session.exec(select(OutboxTask.key).where(col(OutboxTask.relayed_at).is_(None)))
            .scalars()
            .all()
        )


def held_by_redis(broker: str) -> int:
    """Tasks waiting in the queue plus those delivered and not yet acknowledged."""
    client = redis.Redis.from_url(broker)
    try:
        return int(client.llen("evidence")) + int(client.hlen("unacked"))
    finally:
        client.close()


def test_a_redis_restart_loses_no_task_and_runs_none_twice(
    *,
    redis_server: RedisServer,
    broker: str,
    sessions: Callable[[], Session],
    relay_loop: OutboxRelay,
    workers: Workers,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    log = tmp_path / "starts.txt"
    before = [f"before-{n}" for n in range(4)]
    during = [f"during-{n}" for n in range(3)]
    commit_tasks(sessions, before, starts_file=str(log), sleep_s=1.5)
    wait_for(lambda: held_by_redis(broker) == len(before), 30, "the relay to hand tasks to Redis")
    workers.start(str(PROBE_TIME_LIMIT_S))
    wait_for(lambda: len(starts(log)) >= 1, 60, "a task in flight", workers.log_tails)
    redis_server.halt()
    try:
        # Committed while the broker is down: the relay cannot hand these over, and keeps them.
        commit_tasks(sessions, during, starts_file=str(log), sleep_s=1.5)
        wait_for(
            lambda: {f"probe:{mark}" for mark in during} <= unrelayed(db_engine),
            10,
            "the tasks committed during the outage to wait in the outbox",
        )
        assert len(effects(db_engine)) < len(before), "the outage began with tasks queued"
    finally:
        redis_server.resume()
    wait_for(
        lambda: len(effects(db_engine)) >= len(before) + len(during),
        90,
        f"every task to run (runs started: {starts(log)})",
        workers.log_tails,
    )
    assert unrelayed(db_engine) == set()
    assert sorted(effects(db_engine)) == sorted(before + during)


def test_a_task_past_its_time_limit_is_handed_over_again_and_completes_once(
    *,
    sessions: Callable[[], Session],
    db_engine: Engine,
    queue: CeleryQueue,
    workers: Workers,
    tmp_path: Path,
) -> None:
    log = tmp_path / "starts.txt"
    # Celery acknowledges a task killed at its time limit: only the outbox can hand it over again.
    republishing = OutboxRelay(
        sessions, db_engine, queue, poll_interval_s=0.5, republish_after_s=PROBE_TIME_LIMIT_S + 2
    )
    republishing.start()
    try:
        commit_tasks(
            sessions, ["overrun"], starts_file=str(log), sleep_first_s=PROBE_TIME_LIMIT_S + 5
        )
        workers.start(str(PROBE_TIME_LIMIT_S))
        wait_for(
            lambda: effects(db_engine) == ["overrun"],
            60,
            f"the task to run again and complete (runs started: {starts(log)})",
            workers.log_tails,
        )
    finally:
        republishing.stop()
    assert starts(log) == ["overrun", "overrun"]
    assert unrelayed(db_engine) == set()


@pytest.mark.s3
def test_tasks_wait_out_an_s3_outage_and_no_row_names_a_missing_blob(
    *,
    s3_server: SeaweedS3,
    s3_blob_url: str,
    broker: str,
    sessions: Callable[[], Session],
    relay_loop: OutboxRelay,
    database_url: str,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    workers = Workers(
        broker,
        database_url,
        tmp_path,
        visibility_timeout_s=OUTAGE_TIME_LIMIT_S + 10,
        environment={"COPYMARK_BLOB_URL": s3_blob_url, **s3_server.environment()},
    )
    log = tmp_path / "starts.txt"
    marks = [f"capture-{n}" for n in range(4)]
    try:
        workers.start(str(OUTAGE_TIME_LIMIT_S))
        s3_server.halt()
        try:
            commit_tasks(sessions, marks, starts_file=str(log), put_blob=True)
            # Each task tries, finds storage unreachable, and is sent again later.
            wait_for(
                lambda: len(starts(log)) >= len(marks) + 1,
                60,
                "the tasks to be tried while storage is down",
                workers.log_tails,
            )
            assert effects(db_engine) == []
        finally:
            s3_server.resume()
        wait_for(
            lambda: len(effects(db_engine)) == len(marks),
            90,
            f"every task to finish once storage is back (runs started: {starts(log)})",
            workers.log_tails,
        )
    finally:
        workers.stop_all()
    assert sorted(effects(db_engine)) == sorted(marks)
    store = blob_stores(s3_blob_url, tmp_path / "unused", tmp_path / "unused")[0]
    named = blobs_named(db_engine)
    assert len(named) == len(marks)
    assert all(store.exists(digest) for digest in named)
