"""Real processes on loopback for the scale benchmarks: the CLI, fresh PostgreSQL databases,
log writer processes and a sequencer, and what a run of writers left behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text

from registry.db import make_engine
from registry.log.models import LogLeaf
from registry.log.sequencer import append_and_wait


def write_leaves(database_url: str, writer: int, count: int, group: int, results: Any) -> None:
    """A writer process: submit `count` leaves, `group` at a time, each time waiting for them."""
    engine = make_engine(database_url)
    indexes: list[int] = []
    started = time.monotonic()
    for first in range(0, count, group):
        leaves = [
            json.dumps(
                {"type": "bench", "writer": writer, "n": n}, separators=(",", ":"), sort_keys=True
            ).encode()
            for n in range(first, min(first + group, count))
        ]
        indexes += append_and_wait(engine, leaves, timeout_s=300)
    results.put((writer, indexes, time.monotonic() - started))
    engine.dispose()


def run_writers(
    database_url: str, writers: int, per_writer: int, group: int
) -> dict[int, list[int]]:
    """Start `writers` writer processes and collect the indexes each was given."""
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue()
    processes = [
        context.Process(target=write_leaves, args=(database_url, n, per_writer, group, results))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    given = {}
    for _ in processes:
        writer, indexes, _seconds = results.get(timeout=900)
        given[writer] = indexes
    for process in processes:
        process.join()
    return given


def index_problems(given: dict[int, list[int]], tree_size: int) -> dict[str, int]:
    """Indexes given twice, and indexes below the tree size that nobody was given."""
    every = [index for indexes in given.values() for index in indexes]
    return {
        "duplicates": len(every) - len(set(every)),
        "gaps": len(set(range(tree_size)) - set(every)),
    }


def tree_size(database_url: str) -> int:
    engine = make_engine(database_url)
    size = leaf_count(engine)
    engine.dispose()
    return size


def leaf_count(engine: Engine) -> int:
    """The log's leaves so far, on an engine the caller keeps (for polling)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(LogLeaf)).scalar_one())


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "frontend.cli", *args]


@contextmanager
def sequencer_process(environment: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`copymark log sequence` running; stopped with SIGTERM at the end."""
    process = subprocess.Popen(cli("log", "sequence"), env=environment)  # noqa: S603 - our CLI
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fresh_database(admin_url: str, name: str) -> str:
    """Create database `name` from the migrated template next to `admin_url`; return its URL."""
    admin = make_engine(admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def environment_for(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "COPYMARK_HOME": str(home),
        "COPYMARK_DATABASE_URL": database_url,
        **extra,
    }


def initialised_home(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a home on that database, after `copymark init` ran there."""
    environment = environment_for(home, database_url, **extra)
    subprocess.run(cli("init"), env=environment, check=True, capture_output=True)  # noqa: S603
    return environment


def log_verifies(environment: dict[str, str]) -> bool:
    """Whether `copymark log verify` passes on that environment's log."""
    verified = subprocess.run(  # noqa: S603 - our own CLI
        cli("log", "verify", "--json"), env=environment, capture_output=True, check=False
    )
    return verified.returncode == 0


def migrated_database(admin_url: str, name: str) -> str:
    from registry.migrations import migrate

    url = fresh_database(admin_url, name)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def memory_mib(pid: int, field: str) -> float:
    """A memory figure of a live process from Linux's /proc status, in MiB (VmHWM: its peak
    resident memory, VmRSS: its resident memory now); 0 where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class MeasuredRun:
    stdout: str
    stderr: str
    seconds: float
    cpu_s: float
    max_rss_mb: int

    def figures(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "cpu_s": round(self.cpu_s, 2),
            "max_rss_mb": self.max_rss_mb,
        }


def measured_run(args: list[str], environment: dict[str, str]) -> MeasuredRun:
    """Run a command to its end: its output, wall and CPU seconds and peak resident memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(args, env=environment, stdout=out, stderr=err)  # noqa: S603
        # wait4 gives this one child's own resource use; getrusage(RUSAGE_CHILDREN) would give
        # the largest peak of every child so far.
        _, status, usage = os.wait4(process.pid, 0)
        # Reaped here, so Popen is told how it ended (it would otherwise think it still runs).
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, args, stdout, stderr)
    return MeasuredRun(
        stdout,
        stderr,
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss // 1024,
    )
