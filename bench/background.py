"""Background registration through Celery on Redis, as the benchmark drives it: uploads stored
and queued, the serving process's outbox relay, `copymark worker` processes, works counted.

The fault phases (`bench.background_faults`) and the throughput part
(`bench.background_registration`) share it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from bench.processes import cli, initialised_home, migrated_database
from bench.registration import distinct_jpegs
from registry.accounts.service import create_user, find_user_by_email
from registry.blobs import BlobStore, LocalBlobStore
from registry.db import make_engine, unit_of_work
from registry.models import Work
from registry.schemas import WorkMetadata
from registry.service import Registrar, StoredUpload, queue_registration, registration_task
from registry.tasks.celery_queue import CeleryQueue, celery_app
from registry.tasks.queue import TaskKinds
from registry.tasks.relay import OutboxRelay

POLL_S = 0.1
WORKS_PER_TASK = 4
OWNER = "bench-background@copymark.test"


@dataclass
class BackgroundRun:
    """One run's database, home environment and blob store, and what it queued."""

    engine: Engine
    environment: dict[str, str]
    blobs: BlobStore
    home: Path
    digests: set[str] = field(default_factory=set)
    tasks: int = 0


@dataclass
class Workers:
    """Running `copymark worker` processes: each the leader of its own session, and its log."""

    pids: list[int]
    logs: list[Path]

    def cpu_s(self) -> float:
        """CPU seconds the workers' sessions have used so far, their pool processes included."""
        return sum(session_cpu_s(pid) for pid in self.pids)

    def log_tails(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-3000:] for log in self.logs)


def fresh_run(
    admin_url: str,
    database: str,
    home: Path,
    broker_url: str,
    models_dir: Path,
    *,
    blobs: BlobStore | None = None,
    **environment: str,
) -> BackgroundRun:
    """A fresh database and a home on it whose tasks go to `broker_url`; its blobs in the home's
    folder unless `blobs` is given (its settings then in `environment`)."""
    url = migrated_database(admin_url, database)
    settings = initialised_home(
        home,
        url,
        COPYMARK_TASK_BROKER_URL=broker_url,
        COPYMARK_MODELS_DIR=str(models_dir),
        **environment,
    )
    return BackgroundRun(make_engine(url), settings, blobs or LocalBlobStore(home / "blobs"), home)


def queue_registrations(run: BackgroundRun, sessions: Callable[[], Session], works: int) -> None:
    """Store `works` more distinct JPEGs and queue them, WORKS_PER_TASK to a task, in one commit."""
    metadata = WorkMetadata(title="bench")
    uploads = []
    before = len(run.digests)
    # One seeded sequence across calls, so that a later batch never repeats an earlier image.
    images = distinct_jpegs(before + works, seed=7)[before:]
    for number, image in enumerate(images, start=before):
        digest = run.blobs.put(image)
        run.digests.add(digest)
        uploads.append(StoredUpload(digest, len(image), f"work-{number:05d}.jpg", metadata))
    with unit_of_work(sessions) as session:
        owner = find_user_by_email(session, OWNER) or create_user(
            session,
            email=OWNER,
            password="bench-background-password",  # noqa: S106
        )
        for first in range(0, works, WORKS_PER_TASK):
            queue_registration(session, owner, uploads[first : first + WORKS_PER_TASK], metadata)
            run.tasks += 1


@contextmanager
def relay(sessions: Callable[[], Session], engine: Engine, broker_url: str) -> Iterator[None]:
    """The serving process's outbox relay, handing registration tasks to Redis."""

    def no_registrar() -> Registrar:
        raise RuntimeError("the relay only sends tasks")

    kinds = TaskKinds([registration_task(no_registrar)])
    # No republishing of unfinished tasks: the serving process's comes after the visibility
    # timeout plus the longest time limit (`frontend.tasks.republish_after_s`), hours away.
    outbox_relay = OutboxRelay(
        sessions, engine, CeleryQueue(celery_app(broker_url, kinds), kinds), poll_interval_s=1.0
    )
    outbox_relay.start()
    try:
        yield
    finally:
        outbox_relay.stop()


@contextmanager
def workers(environment: dict[str, str], home: Path, count: int) -> Iterator[Workers]:
    """`count` `copymark worker` processes on the fingerprint queue, killed at the end."""
    logs = [home / f"worker-{number}.log" for number in range(count)]
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
        yield Workers([process.pid for process in processes], logs)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def session_cpu_s(session_id: int) -> float:
    """User plus system CPU seconds of the live processes in that session, with what their
    children that already ended used (`/proc/<pid>/stat`, Linux)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command name's closing parenthesis: state, ppid, pgrp, session, ... with
            # utime, stime, cutime and cstime the 12th to 15th of them.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[3]) == session_id:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, running: Workers) -> None:
    """Poll until `condition()` holds; raises with the workers' logs when it never does."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not in {timeout_s:g} s\n{running.log_tails()}")
        time.sleep(POLL_S)


def registered(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Work)).scalar_one())


def registered_with_log_index(engine: Engine) -> int:
    """Works whose leaf the log has appended (at once in place, or later by its sequencer)."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(Work).where(col(Work.log_index).is_not(None))
            ).scalar_one()
        )


def registered_digests(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(col(Work.sha256))).scalars())
