"""A task kind that leaves a countable mark, for testing the queues themselves.

Its body notes each start in a file (outside any transaction, so every run shows), sleeps, then
inserts one row through the task's session (so only a committed run shows). A run counted in
the file but not in the table is a run whose effect was rolled back or killed.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.tasks.queue import TaskArgs, TaskKind

PROBE_TASK = "probe"
PROBE_EFFECTS = Table(
    "probe_effects",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("mark", String(200), nullable=False),
)


def create_probe_table(engine: Engine) -> None:
    PROBE_EFFECTS.metadata.create_all(engine)


def probe_kind(time_limit_s: float = 60.0) -> TaskKind:
    def run(session: Session, args: TaskArgs) -> None:
        starts = args.get("starts_file")
        if starts:
            with Path(starts).open("a") as log:
                log.write(f"{args['mark']}\n")
        time.sleep(float(args.get("sleep_s", 0)))
        session.execute(insert(PROBE_EFFECTS).values(mark=args["mark"]))

    return TaskKind(name=PROBE_TASK, queue="evidence", run=run, time_limit_s=time_limit_s)


def effects(engine: Engine) -> list[str]:
    """The marks of every committed run, in order."""
    query = select(PROBE_EFFECTS.c.mark).order_by(PROBE_EFFECTS.c.id)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def starts(path: Path) -> list[str]:
    """The marks of every run that started, committed or not."""
    return path.read_text().split() if path.exists() else []
