"""Background registration throughput through Celery on Redis with 1, 2 and 4 `copymark worker`
processes: works/s and the workers' CPU seconds per work, in the steady state.

Each run has its own PostgreSQL database and Redis server, the outbox relay in the benchmark's
process, as `bench.background_faults` runs them. Warm-up tasks come first, until every worker has
finished one (its start-up and model load behind it); the clock starts when the timed works are
queued and stops when the last work is registered with its log index; the workers' CPU is taken
over the same span. Each count runs
with the log appended in the registering transaction (`in_place`) and through
`copymark log sequence` (`sequenced`, COPYMARK_LOG_SEQUENCED), whose own CPU is not counted;
`log_modes` picks either alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench.background import (
    WORKS_PER_TASK,
    BackgroundRun,
    Workers,
    fresh_run,
    queue_registrations,
    registered,
    registered_digests,
    registered_with_log_index,
    relay,
    wait_for,
    workers,
)
from bench.processes import log_verifies, sequencer_process
from bench.servers import RedisServer, RedisUnavailable

CLOCK = (
    "from queuing the timed works, once every worker had finished a warm-up registration task "
    "(start-up and model load behind it), to the last work given its log index; CPU of the "
    "workers' processes over that span"
)
# What Celery logs when a worker is listening, and when one of its tasks finished.
READY = " ready."
SUCCEEDED = " succeeded in "
# Long enough for a slow machine to start the workers and to register every work.
START_TIMEOUT_S = 900.0
RUN_TIMEOUT_S = 3600.0
LOG_MODES = ("in_place", "sequenced")


def fewest_works(worker_counts: Collection[int]) -> int:
    """The fewest works that give every worker of the largest count a timed task."""
    return WORKS_PER_TASK * max(worker_counts)


def registration_throughput_figures(
    admin_url: str,
    work: Path,
    works: int,
    models_dir: Path,
    worker_counts: Collection[int] = (1, 2, 4),
    *,
    log_modes: Collection[str] = LOG_MODES,
) -> dict[str, Any]:
    """Works/s and CPU-s per work registering `works` works with each count of workers, in each
    of the log's modes. `models_dir` holds the exported embedding model the workers share."""
    if works < fewest_works(worker_counts):
        raise ValueError(f"{works} works leave some worker no timed task")
    runs = []
    for count in worker_counts:
        for mode in log_modes:
            folder = work / f"registration-{count}-{mode}"
            try:
                broker = RedisServer.start(folder / "redis")
            except (RedisUnavailable, OSError) as error:
                return {"skipped": f"no Redis server: {error}"}
            try:
                run = fresh_run(
                    admin_url,
                    f"copymark_bench_registration_{count}_{mode}",
                    folder / "home",
                    broker.url,
                    models_dir,
                    COPYMARK_LOG_SEQUENCED=str(mode == "sequenced").lower(),
                )
                try:
                    runs.append({"log": mode, **_throughput(run, broker.url, works, count, mode)})
                finally:
                    run.engine.dispose()
            finally:
                broker.stop()
    return {"works_per_task": WORKS_PER_TASK, "clock": CLOCK, "runs": runs}


def _throughput(
    run: BackgroundRun, broker_url: str, works: int, count: int, mode: str
) -> dict[str, Any]:
    """Start `count` workers, warm each up, then time the registration of `works` more works."""
    sessions = partial(Session, run.engine, expire_on_commit=False)
    with (
        sequencer_process(run.environment) if mode == "sequenced" else nullcontext(),
        relay(sessions, run.engine, broker_url),
        workers(run.environment, run.home, count) as running,
    ):
        wait_for(lambda: _every_log_has(running, READY), START_TIMEOUT_S, "workers ready", running)
        warm_up = _warm_up(run, sessions, count, running)
        # The timed works are queued once every worker is warm; the clock stops when the last
        # work has its log index (the sequencer may still owe the warm-up works theirs).
        queue_registrations(run, sessions, works)
        started, cpu_before = time.monotonic(), running.cpu_s()
        wait_for(
            lambda: registered_with_log_index(run.engine) >= warm_up + works,
            RUN_TIMEOUT_S,
            "every work with its log index",
            running,
        )
        seconds, cpu_s = time.monotonic() - started, running.cpu_s() - cpu_before
    digests = registered_digests(run.engine)
    timed = len(digests) - warm_up
    return {
        "workers": count,
        "works_warm_up": warm_up,
        "works_registered": len(set(digests)),
        "works_registered_twice": len(digests) - len(set(digests)),
        "works_with_log_index": registered_with_log_index(run.engine),
        "works_timed": timed,
        "seconds": round(seconds, 2),
        "works_per_s": round(timed / seconds, 2),
        "worker_cpu_s_per_work": round(cpu_s / timed, 4),
        "log_verify_ok": log_verifies(run.environment),
    }


def _warm_up(
    run: BackgroundRun, sessions: Callable[[], Session], count: int, running: Workers
) -> int:
    """Queue a task for each worker, as often as it takes for every worker to finish one (one
    worker may take two); returns the works registered so."""
    warm_up = 0
    while not _every_log_has(running, SUCCEEDED):
        queue_registrations(run, sessions, WORKS_PER_TASK * count)
        warm_up += WORKS_PER_TASK * count
        wait_for(
            partial(_registered_at_least, run, warm_up),
            START_TIMEOUT_S,
            "the warm-up works registered",
            running,
        )
    return warm_up


def _registered_at_least(run: BackgroundRun, works: int) -> bool:
    return registered(run.engine) >= works


def _every_log_has(running: Workers, line: str) -> bool:
    return all(line in log.read_text(errors="replace") for log in running.logs)
