"""Background registration through Celery on Redis with a server failing mid-run: Redis
restarted, or the S3 blob store stopped a while. No work may be lost or registered twice.

Real programs on loopback: a fresh PostgreSQL database, a Redis server with append-only
persistence, two `copymark worker` processes on the `fingerprint` queue and the outbox relay the
serving process runs (here in the benchmark's own process). The uploads are in the blob store
before their registration is queued, as `copymark register --queue` leaves them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bench.background import (
    POLL_S,
    BackgroundRun,
    fresh_run,
    queue_registrations,
    registered,
    registered_digests,
    relay,
    wait_for,
    workers,
)
from bench.processes import log_verifies
from bench.servers import S3_REGION, RedisServer, RedisUnavailable, S3Unavailable, SeaweedS3
from registry.blobs import S3BlobStore, S3Location
from registry.log.models import LogLeaf
from registry.tasks.models import CompletedTask, OutboxTask
from registry.tasks.runner import RETRY_LONGEST_S

WORKERS = 2
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
        run = fresh_run(
            admin_url, "copymark_bench_redis_fault", folder / "home", broker.url, models_dir
        )

        def restart(times: FaultTimes) -> None:
            times.stopped_at = time.monotonic()
            broker.halt()
            broker.resume()
            times.started_at = time.monotonic()

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
        run = fresh_run(
            admin_url,
            "copymark_bench_s3_fault",
            folder / "home",
            broker.url,
            models_dir,
            # The registry's store as `blob_stores` makes it, with the server's credentials.
            blobs=S3BlobStore(S3Location.parse(blob_url).under("blobs"), s3.client()),
            COPYMARK_BLOB_URL=blob_url,
            **s3.environment(),
        )

        def outage(times: FaultTimes) -> None:
            times.stopped_at = time.monotonic()
            s3.halt()
            time.sleep(outage_s)
            s3.resume()
            times.started_at = time.monotonic()

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
    queue_registrations(run, sessions, works)
    times = FaultTimes()
    started = time.monotonic()
    with (
        relay(sessions, run.engine, broker_url),
        workers(run.environment, run.home, WORKERS) as running,
    ):
        wait_for(
            lambda: registered(run.engine) >= works // 3,
            FIRST_THIRD_TIMEOUT_S,
            "a third of the works registered",
            running,
        )
        times.works_before = registered(run.engine)
        fault(times)
        resumed_at, finished = _wait_for_the_rest(run.engine, works, times)
        retries = sum(log.read_text(errors="replace").count(" retry: ") for log in running.logs)
        unacknowledged = _unacknowledged(broker_url)
    digests = registered_digests(run.engine)
    return {
        "workers": WORKERS,
        "tasks_queued": run.tasks,
        "works_expected": works,
        "works_registered": len(set(digests)),
        "works_registered_before_the_fault": times.works_before,
        "works_registered_after_the_fault": len(set(digests)) - times.works_before,
        "works_lost": len(run.digests - set(digests)),
        "works_registered_twice": len(digests) - len(set(digests)),
        "registration_leaves_twice": _leaves_twice(run.engine),
        "works_with_their_blob_missing": sum(
            not run.blobs.exists(digest) for digest in set(digests)
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
        now, latest = time.monotonic(), registered(engine)
        if latest > count:
            resumed_at = resumed_at or now
            progress_at, count = now, latest
    return resumed_at, progress_at


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
