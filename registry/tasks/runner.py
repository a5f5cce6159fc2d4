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
