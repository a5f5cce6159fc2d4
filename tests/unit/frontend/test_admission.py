"""Admission of CPU-heavy request work: a bounded pool with bounded waiting, and the anonymous
pixel allowance per client."""

from __future__ import annotations

import asyncio
import threading

import pytest

from frontend.admission import ComputePool, PixelAllowance
from registry.errors import Overloaded, TooManyRequests


def test_work_beyond_the_workers_and_waiting_places_is_refused_with_a_wait() -> None:
    async def scenario() -> None:
        pool = ComputePool(workers=1, waiting=1)
        release = threading.Event()
        first = asyncio.create_task(pool.run(lambda: release.wait(10)))
        second = asyncio.create_task(pool.run(lambda: "second"))
        await asyncio.sleep(0.1)
        with pytest.raises(Overloaded) as refused:
            await pool.run(lambda: "third")
        assert refused.value.retry_after_s >= 1
        assert "busy" in refused.value.message
        release.set()
        assert await first is True
        assert await second == "second"
        assert await pool.run(lambda: "after") == "after"
        pool.close()

    asyncio.run(scenario())


def test_the_event_loop_runs_while_the_pool_works() -> None:
    async def scenario() -> int:
        pool = ComputePool(workers=1, waiting=0)
        ticks = 0
        stop = threading.Event()
        work = asyncio.create_task(pool.run(lambda: stop.wait(0.5)))
        while not work.done():
            ticks += 1
            await asyncio.sleep(0.01)
        pool.close()
        return ticks

    assert asyncio.run(scenario()) >= 10


def test_a_failure_in_the_pool_reaches_the_caller_and_frees_its_place() -> None:
    def fail() -> None:
        raise ValueError("undecodable")

    async def scenario() -> None:
        pool = ComputePool(workers=1, waiting=0)
        with pytest.raises(ValueError, match="undecodable"):
            await pool.run(fail)
        assert await pool.run(lambda: 7) == 7
        pool.close()

    asyncio.run(scenario())


def test_an_anonymous_client_spends_its_pixels_and_gets_them_back_over_the_minute() -> None:
    now = [0.0]
    allowance = PixelAllowance(pixels_per_minute=1_000_000, clock=lambda: now[0])
    allowance.charge("203.0.113.7", 600_000)
    with pytest.raises(TooManyRequests) as refused:
        allowance.charge("203.0.113.7", 600_000)
    # 200,000 pixels short at 1,000,000 a minute: 12 seconds.
    assert refused.value.retry_after_s == 12
    assert "sign in" in refused.value.message
    allowance.charge("198.51.100.2", 600_000)  # another client has its own allowance
    now[0] = 12.0
    allowance.charge("203.0.113.7", 600_000)  # the refused request spent nothing


def test_a_request_larger_than_a_whole_minute_is_refused_for_good() -> None:
    allowance = PixelAllowance(pixels_per_minute=1_000, clock=lambda: 0.0)
    with pytest.raises(TooManyRequests):
        allowance.charge("203.0.113.7", 5_000)
