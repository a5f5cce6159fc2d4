"""Background work on Celery and Redis: one queue per kind of work, each task idempotent by key.

The settings that make a killed worker lose nothing: a task is acknowledged only after it ran
(`task_acks_late`) and is requeued when its worker process dies (`task_reject_on_worker_lost`);
a worker takes one task at a time (`worker_prefetch_multiplier=1`), so a long crawl never holds
a task another worker could run; Redis redelivers a task unacknowledged for longer than the
visibility timeout, which must therefore exceed the longest task's time limit, or a slow task
would run twice at once. Workers restart their process every `max_tasks_per_child` tasks, which
bounds what a leak in an image library can hold. A task that found a service it needs unavailable
(blob storage, say) is sent again later, further apart each time (`retry_delay_s`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from kombu import Queue
from sqlmodel import Session

from registry.errors import Unavailable
from registry.tasks.queue import QUEUES, VISIBILITY_MARGIN_S, TaskArgs, TaskKinds
from registry.tasks.runner import RETRY_LIMIT, retry_delay_s, run_once

TASK_PREFIX = "copymark."


def celery_app(
    broker_url: str,
    kinds: TaskKinds,
    sessions: Callable[[], Session] | None = None,
    *,
    max_tasks_per_child: int = 200,
    visibility_timeout_s: float | None = None,
) -> Celery:
    """A Celery app whose tasks run `kinds` through `run_once`; `sessions` only where tasks run.

    The producer side (the web app's relay) needs no sessions: it only sends.
    """
    longest = max((kind.time_limit_s for kind in kinds.values()), default=0.0)
    visibility = visibility_timeout_s or longest + VISIBILITY_MARGIN_S
    if visibility <= longest:
        raise ValueError(
            f"the visibility timeout ({visibility:.0f} s) must exceed the longest task "
            f"({longest:.0f} s), or Redis hands a running task to a second worker"
        )
    app = Celery("copymark", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="notify",
        task_routes={TASK_PREFIX + kind.name: {"queue": kind.queue} for kind in kinds.values()},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=max_tasks_per_child,
        worker_hijack_root_logger=False,
        broker_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
    )
    for kind in kinds.values():
        _register(app, kinds, kind.name, kind.time_limit_s, sessions)
    return app


def _register(
    app: Celery,
    kinds: TaskKinds,
    name: str,
    time_limit_s: float,
    sessions: Callable[[], Session] | None,
) -> None:
    def run(task: Task[Any, Any], /, **args: Any) -> None:
        if sessions is None:
            raise RuntimeError("this Celery app only sends tasks; start workers with sessions")
        try:
            run_once(sessions, kinds, name, args, str(task.request.id))
        except Unavailable as error:
            retries = int(task.request.retries or 0)
            raise task.retry(
                exc=error, countdown=retry_delay_s(retries), max_retries=RETRY_LIMIT
            ) from error

    run.__name__ = name
    app.task(name=TASK_PREFIX + name, bind=True, time_limit=int(time_limit_s))(run)


class CeleryQueue:
    """Submits to Celery: the key is the Celery task id, the kind names the Redis queue."""

    def __init__(self, app: Celery, kinds: TaskKinds) -> None:
        self.app = app
        self.kinds = kinds

    def submit(self, task: str, args: TaskArgs, key: str) -> None:
        kind = self.kinds[task]
        self.app.send_task(TASK_PREFIX + task, kwargs=args, task_id=key, queue=kind.queue)
