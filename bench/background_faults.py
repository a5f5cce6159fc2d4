"""Background registration through Celery on Redis with a server failing mid-run: Redis
restarted, or the S3 blob store stopped a while. No work may be lost or registered twice.

Real programs on loopback: a fresh PostgreSQL database, a Redis server with append-only
persistence, two `copymark worker` processes on the `fingerprint` queue and the outbox relay the
serving process runs (here in the benchmark's own process). The uploads are in the blob store
before their registration is queued, as `copymark register --queue` leaves them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bench.processes import cli, initialised_home, log_verifies, migrated_database
from bench.registration import distinct_jpegs
from bench.servers import S3_REGION, RedisServer, RedisUnavailable, S3Unavailable, SeaweedS3
from registry.accounts.service import create_user
from registry.blobs import BlobStore, LocalBlobStore, S3BlobStore, S3Location
from registry.db import make_engine, unit_of_work
from registry.log.models import LogLeaf
from registry.models import Work
from registry.schemas import WorkMetadata
from registry.service import Registrar, StoredUpload, queue_registration, registration_task
from registry.tasks.celery_queue import CeleryQueue, celery_app
from registry.tasks.models import CompletedTask, OutboxTask
from registry.tasks.queue import TaskKinds
from registry.tasks.relay import OutboxRelay
from registry.tasks.runner import RETRY_LONGEST_S

POLL_S = 0.1
WORKERS = 2
WORKS_PER_TASK = 4
OWNER = "bench-faults@copymark.test"
BUCKET = "copymark-bench"
# Long enough for a slow machine to register a third of the works, workers' start included.
FIRST_THIRD_TIMEOUT_S = 900.0
# Once the server is back, works not registered after this long without progress count as lost:
# it is longer than a retried task's longest wait between tries, plus the try.
GIVE_UP_QUIET_S = RETRY_LONGEST_S + 60.0


@dataclass
class FaultTimes:
    """When the server went down and when it answered again (monotonic seconds)."""

    stopped_at: float = 0.0
    started_at: float = 0.0
    works_before: int = 0


@dataclass
class BackgroundRun:
    """One run's database, home environment and blob store, and what it queued."""

    engine: Engine
    environment: dict[str, str]
    blobs: BlobStore
    home: Path
    digests: set[str] = field(default_factory=set)
    tasks: int = 0


def redis_restart_figures(
    admin_url: str, work: Path, works: int, models_dir: Path
) -> dict[str, Any]:
    """Registration tasks queued on Redis; Redis is shut down and started again on the same port
    and append-only file once a third of the works are registered. `models_dir` holds the
    exported embedding model the workers share."""
    folder = work / "redis-restart"
    try:
        broker = RedisServer.start(folder / "redis")
    except (RedisUnavailable, OSError) as error:
        return {"skipped": f"no Redis server: {error}"}
    try:
        url = migrated_database(admin_url, "copymark_bench_redis_fault")
        environment = initialised_home(
            folder / "home",
            url,
            COPYMARK_TASK_BROKER_URL=broker.url,
            COPYMARK_MODELS_DIR=str(models_dir),
        )
        blobs = LocalBlobStore(folder / "home" / "blobs")

        def restart(times: FaultTimes) -> None:
            times.stopped_at = time.monotonic()
            broker.halt()
            broker.resume()
            times.started_at = time.monotonic()

        run = BackgroundRun(make_engine(url), environment, blobs, folder / "home")
        figures = _registration_with_fault(run, broker.url, works, restart)
    finally:
        broker.stop()
    return {"fault": "redis-server stopped (SIGTERM) and started again", **figures}


def s3_outage_figures(
    admin_url: str, work: Path, works: int, models_dir: Path, outage_s: float = 60.0
) -> dict[str, Any]:
    """Registration tasks whose uploads are on an S3 server, which is stopped (SIGKILL: it
    ignores SIGTERM) for `outage_s` once a third of the works are registered, then started
    again on the same ports and folders."""
    folder = work / "s3-outage"
    try:
        broker = RedisServer.start(folder / "redis")
    except (RedisUnavailable, OSError) as error:
        return {"skipped": f"no Redis server: {error}"}
    try:
        s3 = SeaweedS3.start(folder / "s3")
    except (S3Unavailable, OSError) as error:
        broker.stop()
        return {"skipped": f"no S3 server: {error}"}
    try:
        s3.client().create_bucket(Bucket=BUCKET)
        blob_url = f"s3://{BUCKET}/bench?endpoint={s3.endpoint}&region={S3_REGION}"
        url = migrated_database(admin_url, "copymark_bench_s3_fault")
        environment = initialised_home(
            folder / "home",
            url,
            COPYMARK_TASK_BROKER_URL=broker.url,
            COPYMARK_BLOB_URL=blob_url,
            COPYMARK_MODELS_DIR=str(models_dir),
            **s3.environment(),
        )
        # The registry's store as `blob_stores` makes it, with the server's credentials.
        blobs = S3BlobStore(S3Location.parse(blob_url).under("blobs"), s3.client())

        def outage(times: FaultTimes) -> None:
            times.stopped_at = time.monotonic()
            s3.halt()
            time.sleep(outage_s)
            s3.resume()
            times.started_at = time.monotonic()

        run = BackgroundRun(make_engine(url), environment, blobs, folder / "home")
        figures = _registration_with_fault(run, broker.url, works, outage)
    finally:
        s3.stop()
        broker.stop()
    return {"fault": f"S3 server stopped (SIGKILL) for {outage_s:g} s and started again", **figures}


def _registration_with_fault(
    run: BackgroundRun, broker_url: str, works: int, fault: Callable[[FaultTimes], None]
) -> dict[str, Any]:
    """Queue `works` registrations, run `fault` once a third are registered, wait for the rest.

    The stall runs from the server's stop until the next work registered after it.
    """
    try:
        return _figures_of_a_run(run, broker_url, works, fault)
    finally:
        run.engine.dispose()


def _figures_of_a_run(
    run: BackgroundRun, broker_url: str, works: int, fault: Callable[[FaultTimes], None]
) -> dict[str, Any]:
    sessions = partial(Session, run.engine, expire_on_commit=False)
    _queue_registrations(run, sessions, works)
    times = FaultTimes()
    started = time.monotonic()
    with _relay(sessions, run.engine, broker_url), _workers(run.environment, run.home) as logs:
        _wait_for(lambda: _registered(run.engine) >= works // 3, FIRST_THIRD_TIMEOUT_S, logs)
        times.works_before = _registered(run.engine)
        fault(times)
        resumed_at, finished = _wait_for_the_rest(run.engine, works, times)
        retries = sum(log.read_text(errors="replace").count(" retry: ") for log in logs)
        unacknowledged = _unacknowledged(broker_url)
    registered = _registered_digests(run.engine)
    return {
        "workers": WORKERS,
        "tasks_queued": run.tasks,
        "works_expected": works,
        "works_registered": len(set(registered)),
        "works_registered_before_the_fault": times.works_before,
        "works_registered_after_the_fault": len(set(registered)) - times.works_before,
        "works_lost": len(run.digests - set(registered)),
        "works_registered_twice": len(registered) - len(set(registered)),
        "registration_leaves_twice": _leaves_twice(run.engine),
        "works_with_their_blob_missing": sum(
            not run.blobs.exists(digest) for digest in set(registered)
        ),
        "outbox_tasks_not_completed": _not_completed(run.engine),
        "task_retries": retries,
        "messages_left_unacknowledged": unacknowledged,
        "server_down_s": round(times.started_at - times.stopped_at, 2),
        "stalled_s": None if resumed_at is None else round(resumed_at - times.stopped_at, 2),
        "gave_up_after_quiet_s": GIVE_UP_QUIET_S,
        "seconds": round(finished - started, 2),
        "log_verify_ok": log_verifies(run.environment),
    }


def _queue_registrations(run: BackgroundRun, sessions: Callable[[], Session], works: int) -> None:
    """Store `works` distinct JPEGs and queue them, WORKS_PER_TASK to a task, in one commit."""
    metadata = WorkMetadata(title="bench")
    uploads = []
    for number, image in enumerate(distinct_jpegs(works, seed=7)):
        digest = run.blobs.put(image)
        run.digests.add(digest)
        uploads.append(StoredUpload(digest, len(image), f"work-{number:05d}.jpg", metadata))
    with unit_of_work(sessions) as session:
        owner = create_user(session, email=OWNER, password="bench-faults-password")  # noqa: S106
        for first in range(0, works, WORKS_PER_TASK):
            queue_registration(session, owner, uploads[first : first + WORKS_PER_TASK], metadata)
            run.tasks += 1


@contextmanager
def _relay(sessions: Callable[[], Session], engine: Engine, broker_url: str) -> Iterator[None]:
    """The serving process's outbox relay, handing registration tasks to Redis."""

    def no_registrar() -> Registrar:
        raise RuntimeError("the relay only sends tasks")

    kinds = TaskKinds([registration_task(no_registrar)])
    # No republishing of unfinished tasks: the serving process's comes after the visibility
    # timeout plus the longest time limit (`frontend.tasks.republish_after_s`), hours away.
    relay = OutboxRelay(
        sessions, engine, CeleryQueue(celery_app(broker_url, kinds), kinds), poll_interval_s=1.0
    )
    relay.start()
    try:
        yield
    finally:
        relay.stop()


@contextmanager
def _workers(environment: dict[str, str], home: Path) -> Iterator[list[Path]]:
    """WORKERS `copymark worker` processes on the fingerprint queue; yields their log files."""
    logs = [home / f"worker-{number}.log" for number in range(WORKERS)]
    processes = []
    for log in logs:
        with log.open("wb") as output:
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own CLI
                    cli("worker", "--queues", "fingerprint"),
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        yield logs
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(condition: Callable[[], bool], timeout_s: float, logs: list[Path]) -> None:
    """Poll until `condition()` holds; raises with the workers' logs when it never does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
            raise RuntimeError(f"a third of the works were not registered in time\n{tails}")
        time.sleep(POLL_S)


def _unacknowledged(broker_url: str) -> int:
    """Deliveries Redis still holds unacknowledged: it hands each out again after the visibility
    timeout, and the task's completed key makes that run a no-op."""
    client = redis.Redis.from_url(broker_url)
    try:
        return int(client.hlen("unacked"))
    finally:
        client.close()


def _wait_for_the_rest(engine: Engine, works: int, times: FaultTimes) -> tuple[float | None, float]:
    """When the first work after the fault registered (None if none did), and when the last did
    or the wait gave up, GIVE_UP_QUIET_S after the server was back or the latest progress."""
    resumed_at = None
    progress_at = times.started_at
    count = times.works_before
    while count < works and time.monotonic() - progress_at < GIVE_UP_QUIET_S:
        time.sleep(POLL_S)
        now, latest = time.monotonic(), _registered(engine)
        if latest > count:
            resumed_at = resumed_at or now
            progress_at, count = now, latest
    return resumed_at, progress_at


def _registered(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Work)).scalar_one())


def _registered_digests(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(col(Work.sha256))).scalars())


def _leaves_twice(engine: Engine) -> int:
    """Registration leaves naming a digest an earlier registration leaf already named."""
    with engine.connect() as connection:
        leaves = connection.execute(
            select(col(LogLeaf.leaf)).where(col(LogLeaf.event_type) == "registration")
        ).scalars()
        digests = [json.loads(leaf)["sha256"] for leaf in leaves]
    return len(digests) - len(set(digests))


def _not_completed(engine: Engine) -> int:
    """Outbox tasks whose key never completed."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(OutboxTask)
                .where(col(OutboxTask.key).not_in(select(col(CompletedTask.key))))
            ).scalar_one()
        )
