"""The worker's periodic tasks (case deadline reminders in the app) run every round."""

from __future__ import annotations

import threading

from registry.notifications.worker import NotificationWorker
from tests.unit.registry.notifications.support import LoopbackNotificationServices


def test_periodic_tasks_run_every_round_even_after_one_fails(
    notifying_services: LoopbackNotificationServices,
) -> None:
    rounds: list[int] = []
    twice = threading.Event()

    def failing() -> None:
        raise RuntimeError("a database hiccup")

    def counting() -> None:
        rounds.append(1)
        if len(rounds) >= 2:
            twice.set()

    worker = NotificationWorker(
        notifying_services,
        notifying_services.engine,
        poll_interval_s=0.05,
        periodic=[failing, counting],
    )
    worker.start()
    try:
        assert twice.wait(timeout=10)
    finally:
        worker.stop()
