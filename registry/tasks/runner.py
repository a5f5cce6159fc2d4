"""Running one delivered task: once per key, its completion committed with its own writes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.db import unit_of_work
from registry.tasks.models import CompletedTask
from registry.tasks.queue import TaskArgs, TaskKinds

logger = logging.getLogger(__name__)

# A task that finds a service it needs unavailable waits 1, 2, 4 ... s, at most 2 minutes, between
# tries, and gives up after 12 (about 11 minutes in all); its key stays incomplete.
RETRY_LIMIT = 12
RETRY_FIRST_S = 1.0
RETRY_LONGEST_S = 120.0


def retry_delay_s(retries_so_far: int) -> float:
    """How long to wait before the next try of a task that found a service unavailable."""
    return min(RETRY_LONGEST_S, RETRY_FIRST_S * 2.0**retries_so_far)


def run_once(
    sessions: Callable[[], Session], kinds: TaskKinds, task: str, args: TaskArgs, key: str
) -> bool:
    """Run the task unless its key already completed; True when this call completed it.

    Two deliveries of a key that run at the same time both execute the body, but only one
    transaction can insert the key: the other rolls back with its writes.
    """
    kind = kinds[task]
    with sessions() as session:
        if session.get(CompletedTask, key) is not None:
            logger.info("task %s already completed; skipped", key)
            return False
    try:
        with unit_of_work(sessions) as session:
            kind.run(session, args)
            session.add(CompletedTask(key=key, task=task))
    except IntegrityError:
        logger.info("task %s completed elsewhere meanwhile; this run's writes rolled back", key)
        return False
    return True
