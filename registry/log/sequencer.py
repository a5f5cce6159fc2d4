"""One sequencer at a time gives leaves their indexes, in batches; none is skipped or given twice.

Writers commit a `log_submissions` row (in their own transaction, alongside whatever it
records) and wait for its `leaf_index`. The sequencer holds a PostgreSQL advisory lock on its
own connection for as long as it runs; a second sequencer waits for that lock, so a killed
sequencer (whose connection PostgreSQL closes, releasing the lock) is replaced at once. Each
batch, up to `batch_size` leaves or whatever arrived within `batch_wait_s`, is appended, its
submissions given their indexes and a tree head signed in one transaction on that connection:
a sequencer killed mid-batch leaves the batch waiting for the next one, never half-appended.
Appends still lock `log_state`, so even two appenders could not skip or reuse an index.

Registration submits its leaves here when `COPYMARK_LOG_SEQUENCED` is on (`SequencedLog`);
the sequencer's `on_sequenced` callbacks then write each index back onto what it records, in the
batch's transaction, so an index is written even if the writer died before it could wait.

On SQLite (the embedded default) there is no sequencer: appends run in the request's
transaction as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, cast

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlmodel import Session

from registry.log.errors import LogError
from registry.log.models import LogSubmission
from registry.log.signing import Signer
from registry.log.store import AttestationLog, _event_type_of
from registry.messages import N_

SUBMISSIONS = cast(Table, LogSubmission.__table__)  # type: ignore[attr-defined]

# The advisory-lock key of the sequencer's lease: "cmklog" in ASCII.
SEQUENCER_LOCK: Final = 0x636D6B6C6F67
DEFAULT_BATCH_SIZE: Final = 256
DEFAULT_BATCH_WAIT_S: Final = 0.25

# Called in a batch's transaction with the batch's submission ids, once their indexes are set.
OnSequenced = Callable[[Connection, Sequence[int]], None]


class SequencingTimeout(LogError):
    """Submitted leaves were not sequenced in time: no sequencer is running."""


def submit(connection: Connection, leaves: Sequence[bytes]) -> list[int]:
    """Queue leaves for the sequencer in the connection's transaction; returns submission ids."""
    if not leaves:
        return []
    now = datetime.now(UTC)
    rows = connection.execute(
        insert(SUBMISSIONS).returning(SUBMISSIONS.c.id),
        [
            {"leaf": leaf, "event_type": _event_type_of(leaf), "submitted_at": now}
            for leaf in leaves
        ],
    )
    return sorted(int(row[0]) for row in rows)


def wait_for(
    engine: Engine, submission_ids: Sequence[int], *, timeout_s: float = 30.0
) -> list[int]:
    """The leaf index of each submission, once the sequencer has appended all of them."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    wanted = list(submission_ids)
    while True:
        with engine.connect() as connection:
            found = dict(
                connection.execute(
                    select(SUBMISSIONS.c.id, SUBMISSIONS.c.leaf_index).where(
                        SUBMISSIONS.c.id.in_(wanted), SUBMISSIONS.c.leaf_index.is_not(None)
                    )
                ).all()
            )
        if len(found) == len(wanted):
            return [int(found[submission]) for submission in wanted]
        if time.monotonic() > deadline:
            raise SequencingTimeout(
                N_("%(count)s leaves were not sequenced within %(seconds)s s"),
                count=len(wanted) - len(found),
                seconds=timeout_s,
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def append_and_wait(
    engine: Engine, leaves: Sequence[bytes], *, timeout_s: float = 30.0
) -> list[int]:
    """Submit leaves in a transaction of their own and wait for their indexes."""
    with engine.begin() as connection:
        ids = submit(connection, leaves)
    return wait_for(engine, ids, timeout_s=timeout_s)


@dataclass(frozen=True)
class SequencedLog:
    """The writers' side: leaves submitted in the writer's transaction, indexes awaited after."""

    engine: Engine
    wait_s: float = 30.0

    def submit(self, connection: Connection, leaves: Sequence[bytes]) -> list[int]:
        return submit(connection, leaves)

    def indexes(self, submission_ids: Sequence[int]) -> list[int] | None:
        """The submissions' leaf indexes, or None if the sequencer did not append them in time."""
        try:
            return wait_for(self.engine, submission_ids, timeout_s=self.wait_s)
        except SequencingTimeout:
            return None


class Sequencer:
    """Appends submitted leaves in batches while it holds the sequencer lease."""

    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait_s: float = DEFAULT_BATCH_WAIT_S,
        on_sequenced: Sequence[OnSequenced] = (),
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise LogError(
                N_("the log sequencer needs PostgreSQL (on SQLite appends run in place)")
            )
        self._engine = engine
        self._signer = signer
        self._batch_size = batch_size
        self._batch_wait_s = batch_wait_s
        self._on_sequenced = tuple(on_sequenced)
        self.batches = 0
        self.leaves = 0

    def run(self, stop: threading.Event, *, on_lease: threading.Event | None = None) -> None:
        """Wait for the lease, then sequence until `stop` is set (or the connection dies)."""
        with self._engine.connect() as connection:
            while not stop.is_set():
                held = connection.execute(select(func.pg_try_advisory_lock(SEQUENCER_LOCK)))
                connection.commit()
                if held.scalar_one():
                    break
                stop.wait(self._batch_wait_s)
            else:
                return
            if on_lease is not None:
                on_lease.set()
            try:
                while not stop.is_set():
                    if not self._batch(connection):
                        stop.wait(self._batch_wait_s / 5)
            finally:
                connection.rollback()
                connection.execute(select(func.pg_advisory_unlock(SEQUENCER_LOCK)))
                connection.commit()

    def _waiting(self, connection: Connection) -> tuple[int, datetime | None]:
        count, oldest = connection.execute(
            select(func.count(), func.min(SUBMISSIONS.c.submitted_at)).where(
                SUBMISSIONS.c.leaf_index.is_(None)
            )
        ).one()
        connection.commit()
        return int(count), oldest

    def _batch(self, connection: Connection) -> bool:
        """Append one batch if one is due; False when there was nothing to do yet."""
        count, oldest = self._waiting(connection)
        if count == 0 or oldest is None:
            return False
        waited = (datetime.now(UTC) - oldest.astimezone(UTC)).total_seconds()
        if count < self._batch_size and waited < self._batch_wait_s:
            return False
        with Session(bind=connection) as session:
            rows = (
                session.connection()
                .execute(
                    select(SUBMISSIONS.c.id, SUBMISSIONS.c.leaf, SUBMISSIONS.c.event_type)
                    .where(SUBMISSIONS.c.leaf_index.is_(None))
                    .order_by(SUBMISSIONS.c.id)
                    .limit(self._batch_size)
                    .with_for_update()
                )
                .all()
            )
            log = AttestationLog(session, self._signer)
            indexes = log.append([row.leaf for row in rows], [row.event_type for row in rows])
            session.connection().execute(
                update(SUBMISSIONS)
                .where(SUBMISSIONS.c.id == bindparam("submission"))
                .values(leaf_index=bindparam("assigned")),
                [
                    {"submission": row.id, "assigned": index}
                    for row, index in zip(rows, indexes, strict=True)
                ],
            )
            for write_back in self._on_sequenced:
                write_back(session.connection(), [row.id for row in rows])
            log.sign_head()
            session.commit()
        self.batches += 1
        self.leaves += len(rows)
        return True
