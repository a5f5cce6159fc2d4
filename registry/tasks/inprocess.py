"""The embedded default queue: daemon threads in this process, one or more per queue name.

It keeps nothing across a restart; `outbox.requeue_unfinished` at start-up hands what a stopped
process had not finished to the relay again. A task that found a service it needs unavailable is
put back on its queue after a growing pause, as on Celery.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from sqlmodel import Session

from registry.errors import Unavailable
from registry.tasks.queue import QUEUES, QueueName, TaskArgs, TaskKinds
from registry.tasks.runner import RETRY_LIMIT, retry_delay_s, run_once

logger = logging.getLogger(__name__)


class InProcessQueue:
    """Runs submitted tasks on threads of this process, first in first out per queue."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        kinds: TaskKinds,
        threads: Mapping[QueueName, int] | None = None,
    ) -> None:
        self.sessions = sessions
        self.kinds = kinds
        counts = dict.fromkeys(QUEUES, 1) | dict(threads or {})
        self._retries: dict[str, int] = {}
        self._queues: dict[QueueName, queue.Queue[tuple[str, TaskArgs, str] | None]] = {
            name: queue.Queue() for name in QUEUES
        }
        self._threads = [
            (name, threading.Thread(target=self._work, args=(name,), daemon=True))
            for name, count in counts.items()
            for _ in range(count)
        ]

    def start(self) -> None:
        for _name, thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Let each thread finish its current task (up to `timeout_s`); queued ones are dropped."""
        for name, _thread in self._threads:
            self._queues[name].put(None)
        for _name, thread in self._threads:
            thread.join(timeout_s)

    def submit(self, task: str, args: TaskArgs, key: str) -> None:
        self._queues[self.kinds[task].queue].put((task, args, key))

    def _work(self, name: QueueName) -> None:
        pending = self._queues[name]
        while True:
            item = pending.get()
            if item is None:
                return
            task, args, key = item
            try:
                run_once(self.sessions, self.kinds, task, args, key)
                self._retries.pop(key, None)
            except Unavailable:
                self._retry_later(task, args, key)
            except Exception:
                # The key stays incomplete: the next start-up hands the task over again.
                logger.exception("task %s failed", key)

    def _retry_later(self, task: str, args: TaskArgs, key: str) -> None:
        retries = self._retries.get(key, 0)
        if retries >= RETRY_LIMIT:
            self._retries.pop(key, None)
            logger.exception("task %s gave up after %d tries", key, retries + 1)
            return
        self._retries[key] = retries + 1
        delay = retry_delay_s(retries)
        logger.warning("task %s found a service unavailable; trying again in %.0f s", key, delay)
        timer = threading.Timer(delay, self.submit, args=(task, args, key))
        timer.daemon = True
        timer.start()
