"""A task kind that leaves a countable mark, for testing the queues themselves.

Its body notes each start in a file (outside any transaction, so every run shows), sleeps (and
sleeps `sleep_first_s` more on its first start only), puts
its mark as a blob when asked (`put_blob`), then inserts one row through the task's session (so
only a committed run shows), naming the blob's digest as a work names its original. A run
counted in the file but not in the table is a run whose effect was rolled back or killed.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.blobs import BlobStore
from registry.tasks.queue import TaskArgs, TaskKind

PROBE_TASK = "probe"
PROBE_TIME_LIMIT_S = 8.0
# Above the probe's time limit, as `celery_app` demands, and short enough to wait out in a test.
PROBE_VISIBILITY_TIMEOUT_S = 10.0
PROBE_EFFECTS = Table(
    "probe_effects",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("mark", String(200), nullable=False),
    Column("blob_sha256", String(64), nullable=True),
)


def create_probe_table(engine: Engine) -> None:
    PROBE_EFFECTS.metadata.create_all(engine)


def probe_kind(time_limit_s: float = 60.0, blobs: BlobStore | None = None) -> TaskKind:
    def run(session: Session, args: TaskArgs) -> None:
        starts_file = args.get("starts_file")
        first = True
        if starts_file:
            first = args["mark"] not in starts(Path(starts_file))
            with Path(starts_file).open("a") as log:
                log.write(f"{args['mark']}\n")
        time.sleep(float(args.get("sleep_s", 0)))
        if first:
            time.sleep(float(args.get("sleep_first_s", 0)))
        digest = None
        if args.get("put_blob"):
            if blobs is None:
                raise RuntimeError("this probe was given no blob store")
            digest = blobs.put(str(args["mark"]).encode())
        session.execute(insert(PROBE_EFFECTS).values(mark=args["mark"], blob_sha256=digest))

    return TaskKind(name=PROBE_TASK, queue="evidence", run=run, time_limit_s=time_limit_s)


def effects(engine: Engine) -> list[str]:
    """The marks of every committed run, in order."""
    query = select(PROBE_EFFECTS.c.mark).order_by(PROBE_EFFECTS.c.id)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def starts(path: Path) -> list[str]:
    """The marks of every run that started, committed or not."""
    return path.read_text().split() if path.exists() else []


def blobs_named(engine: Engine) -> list[str]:
    """The digest each committed run put, where it put one."""
    query = select(PROBE_EFFECTS.c.blob_sha256).where(PROBE_EFFECTS.c.blob_sha256.is_not(None))
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())
