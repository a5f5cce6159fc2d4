"""Periodic tasks (delivery rounds, case deadline reminders, grant expiry) run every period."""

from __future__ import annotations

import threading

from sqlmodel import Session

from registry.tasks.inprocess import InProcessQueue
from registry.tasks.queue import TaskArgs, TaskKind, TaskKinds
from registry.tasks.relay import Ticker
from tests.unit.registry.notifications.support import LoopbackNotificationServices


def test_periodic_tasks_run_every_period_even_after_one_fails(
    notifying_services: LoopbackNotificationServices,
) -> None:
    rounds: list[int] = []
    twice = threading.Event()

    def failing(_session: Session, _args: TaskArgs) -> None:
        raise RuntimeError("a database hiccup")

    def counting(_session: Session, _args: TaskArgs) -> None:
        rounds.append(1)
        if len(rounds) >= 2:
            twice.set()

    kinds = TaskKinds(
        [
            TaskKind("failing", "notify", failing, time_limit_s=5, period_s=0.2),
            TaskKind("counting", "notify", counting, time_limit_s=5, period_s=0.2),
        ]
    )
    queue = InProcessQueue(notifying_services.session, kinds)
    tickers = [Ticker(queue, kind.name, kind.period_s or 0) for kind in kinds.periodic()]
    queue.start()
    for ticker in tickers:
        ticker.start()
    try:
        assert twice.wait(timeout=10)
    finally:
        for ticker in tickers:
            ticker.stop()
        queue.stop()
