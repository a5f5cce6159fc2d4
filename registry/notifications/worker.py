"""The in-process sender: one thread that delivers when woken after a commit, or on a timer.

Each round also runs the periodic tasks the composition root hands it (deadline reminders of
enforcement cases), so one thread serves every timed job of the embedded deployment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from registry.notifications.delivery import (
    NotificationServices,
    attach_waker,
    deliver_due,
    detach_waker,
    send_digests,
)

logger = logging.getLogger(__name__)


class NotificationWorker:
    """Sends due deliveries and digests; `start` hooks it to commits on `engine`."""

    def __init__(
        self,
        services: NotificationServices,
        engine: Engine,
        poll_interval_s: float = 30.0,
        periodic: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.services = services
        self.engine = engine
        self.poll_interval_s = poll_interval_s
        self.periodic = tuple(periodic)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        attach_waker(self.engine, self._wake.set)
        self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        detach_waker(self.engine)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            for task in (self._deliver, *self.periodic):
                try:
                    task()
                except Exception:
                    # A database hiccup must not end the thread; the next round retries.
                    logger.exception("background round failed: %s", task)

    def _deliver(self) -> None:
        deliver_due(self.services)
        send_digests(self.services)
