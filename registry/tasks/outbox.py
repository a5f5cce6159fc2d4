"""The transactional outbox: a task row is written in the caller's transaction, relayed after it.

Invariant: a task reaches a queue if and only if the transaction that enqueued it committed. A
rolled-back transaction takes its outbox rows with it; a committed row stays until a relay has
handed it to a queue. A relay that dies between handing a row over and marking it relayed hands
it over again, which the task's key makes harmless; so does handing over again a task that was
relayed long ago and never completed (`requeue_unfinished`), which a broker may have dropped.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from registry.models import utcnow
from registry.tasks.models import CompletedTask, OutboxTask
from registry.tasks.queue import TaskArgs, TaskQueue

logger = logging.getLogger(__name__)

RELAY_BATCH = 100
_ENQUEUED_KEYS = "copymark.tasks.enqueued_keys"

# The relay of each engine, woken after a commit that enqueued something.
_wakers: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = weakref.WeakKeyDictionary()


def enqueue(session: Session, task: str, args: TaskArgs, key: str) -> None:
    """Ask for `task` to run once the session's transaction commits; a known key adds nothing."""
    keys: set[str] = session.info.setdefault(_ENQUEUED_KEYS, set())
    if key in keys:
        return
    if session.exec(select(OutboxTask.id).where(OutboxTask.key == key)).first() is None:
        session.add(OutboxTask(key=key, task=task, args=args))
    if not keys:
        _wake_relay_after_commit(session)
    keys.add(key)


def _wake_relay_after_commit(session: Session) -> None:
    bind = session.get_bind()

    @event.listens_for(session, "after_commit", once=True)
    def _wake(_session: Session) -> None:
        session.info.pop(_ENQUEUED_KEYS, None)
        wake = _wakers.get(bind) if isinstance(bind, Engine) else None
        if wake is not None:
            wake()

    @event.listens_for(session, "after_rollback", once=True)
    def _forget(_session: Session) -> None:
        session.info.pop(_ENQUEUED_KEYS, None)


def attach_relay(engine: Engine, wake: Callable[[], None]) -> None:
    """Call `wake` after every commit on `engine` that enqueued a task."""
    _wakers[engine] = wake


def detach_relay(engine: Engine) -> None:
    _wakers.pop(engine, None)


def relay(sessions: Callable[[], Session], queue: TaskQueue, batch: int = RELAY_BATCH) -> int:
    """Hand committed, not yet relayed tasks to `queue` in order; returns how many were handed.

    On PostgreSQL, relays in several processes take disjoint rows (SKIP LOCKED). A row whose
    submission fails stays for the next round.
    """
    relayed = 0
    with sessions() as session:
        rows = session.exec(
            select(OutboxTask)
            .where(col(OutboxTask.relayed_at).is_(None))
            .order_by(col(OutboxTask.id))
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            try:
                queue.submit(row.task, dict(row.args), row.key)
            except Exception:
                logger.exception("handing task %s to the queue failed; retrying later", row.key)
                break
            row.relayed_at = utcnow()
            session.add(row)
            relayed += 1
        session.commit()
    return relayed


def requeue_unfinished(session: Session, relayed_before: datetime | None = None) -> int:
    """Mark relayed tasks that never completed as not relayed, so the relay hands them over again.

    With no `relayed_before`: every such task, for a queue that lives in this process (what it
    held died with the last process). With it: those handed over before then, which a broker
    acknowledged after they failed or passed their time limit, or lost; the caller chooses a
    time after which no delivery of theirs can still be running or due.
    """
    query = (
        select(OutboxTask)
        .where(col(OutboxTask.relayed_at).is_not(None))
        .where(col(OutboxTask.key).not_in(select(CompletedTask.key)))
    )
    if relayed_before is not None:
        query = query.where(col(OutboxTask.relayed_at) < relayed_before)
    rows = session.exec(query.with_for_update(skip_locked=True)).all()
    for row in rows:
        logger.warning(
            "task %s was handed over and never completed; handing it over again", row.key
        )
        row.relayed_at = None
        session.add(row)
    return len(rows)
