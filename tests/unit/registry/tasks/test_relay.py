"""The periodic ticker: one key per period, the same key from every process that ticks."""

from __future__ import annotations

import threading
import time

from registry.tasks.queue import TaskArgs
from registry.tasks.relay import Ticker


class Collected:
    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def submit(self, task: str, args: TaskArgs, key: str) -> None:
        assert (task, args) == ("notify", {})
        with self.lock:
            self.keys.append(key)


def test_two_tickers_name_each_period_alike_and_each_period_differently() -> None:
    queue = Collected()
    tickers = [Ticker(queue, "notify", 0.25) for _ in range(2)]
    for ticker in tickers:
        ticker.start()
    time.sleep(1.4)
    for ticker in tickers:
        ticker.stop()
    assert len(queue.keys) >= 6
    distinct = set(queue.keys)
    assert all(key.startswith("notify:tick:") for key in distinct)
    # Two processes ticking submit each period's key about twice, never a key of their own.
    assert len(distinct) <= len(queue.keys) // 2 + 2
    assert len(distinct) >= 3
