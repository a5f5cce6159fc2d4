"""The relay loop: moves committed outbox rows to the queue right after commit, and on a timer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.models import utcnow
from registry.tasks.outbox import attach_relay, detach_relay, relay, requeue_unfinished
from registry.tasks.queue import TaskQueue

logger = logging.getLogger(__name__)


class OutboxRelay:
    """One thread that relays when a commit on `engine` enqueued a task, or every poll interval.

    The timer catches rows committed by other processes and rows a failed round left behind, and,
    given `republish_after_s`, hands over again tasks relayed that long ago that never completed.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        engine: Engine,
        queue: TaskQueue,
        poll_interval_s: float = 5.0,
        republish_after_s: float | None = None,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.queue = queue
        self.poll_interval_s = poll_interval_s
        self.republish_after_s = republish_after_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        attach_relay(self.engine, self._wake.set)
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        detach_relay(self.engine)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self.republish_after_s is not None:
                    self._republish_stale(self.republish_after_s)
                while relay(self.sessions, self.queue):
                    pass
            except Exception:
                # A database hiccup must not end the thread; the next round retries.
                logger.exception("outbox relay round failed")

    def _republish_stale(self, after_s: float) -> None:
        cutoff = utcnow() - timedelta(seconds=after_s)
        with self.sessions() as session:
            requeue_unfinished(session, relayed_before=cutoff)
            session.commit()


class Ticker:
    """Submits a task every `period_s`, keyed by the period: many processes ticking run it once."""

    def __init__(self, queue: TaskQueue, task: str, period_s: float) -> None:
        self.queue = queue
        self.task = task
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"tick-{self.task}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            period = int(time.time() // self.period_s)
            try:
                self.queue.submit(self.task, {}, f"{self.task}:tick:{period}")
            except Exception:
                logger.exception("submitting the periodic %s task failed", self.task)
