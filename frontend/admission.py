"""Admission of CPU-heavy request work: it runs off the event loop, in a bounded pool, and what
the pool cannot take soon is refused with Retry-After instead of queueing without limit.

Decoding, fingerprinting, embedding, searching and verifying an image take tens to hundreds of
milliseconds of CPU each. Run on the event loop, they stop every other request, `/healthz`
included; run in an unbounded pool, a burst of uploads makes every request wait for all of them.
So each such request takes a place in the `ComputePool` (a worker, or one of a few waiting
places) or is answered 503 at once. Threads, not processes: the decoders, ONNX Runtime, FAISS
and OpenCV release the GIL while they work, and a thread shares the loaded model and index.

Anonymous searches also spend a `PixelAllowance`: decoded pixels per client address per minute.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

from registry.errors import Overloaded, TooManyRequests

T = TypeVar("T")

# How fast the estimate of one piece of work's duration follows new measurements.
_SMOOTHING: Final = 0.2
# Idle clients are forgotten once this many are tracked, so the table stays small.
_MAX_TRACKED_CLIENTS: Final = 10_000


class ComputePool:
    """A fixed number of worker threads and waiting places for CPU-heavy request work."""

    def __init__(self, workers: int, waiting: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compute")
        self._workers = workers
        self._capacity = workers + waiting
        self._admitted = 0
        self._lock = threading.Lock()
        self._typical_s = 0.5

    async def run(self, work: Callable[[], T]) -> T:
        """Run `work` in the pool and wait for it; refuse at once when every place is taken."""
        self._admit()
        future: Future[T] = self._executor.submit(self._timed, work)
        # The place is freed when the work ends, not when the caller stops waiting: a client
        # that hangs up does not stop a running decode, and its place stays taken until then.
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self._capacity:
                rounds = math.ceil(self._admitted / self._workers)
                wait_s = max(1, math.ceil(rounds * self._typical_s))
                raise Overloaded(
                    "The server is busy with other images and cannot take this one now: "
                    f"try again in {_seconds(wait_s)}.",
                    retry_after_s=wait_s,
                )
            self._admitted += 1

    def _timed(self, work: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return work()
        finally:
            elapsed = time.monotonic() - started
            with self._lock:
                self._typical_s += _SMOOTHING * (elapsed - self._typical_s)

    def _release(self, _future: Future[T]) -> None:
        with self._lock:
            self._admitted -= 1

    def close(self) -> None:
        """Stop taking work; what is running finishes."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class PixelAllowance:
    """Decoded pixels each client may spend per minute, refilled continuously (a token bucket).

    Kept in this process's memory, not the database: writing a row per anonymous search would
    take the database's write lock on every search, the contention this module exists to avoid.
    With several server processes each grants its own allowance; the per-request budget and the
    pool bound what any one of them can be made to do.
    """

    def __init__(self, pixels_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(pixels_per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def charge(self, client: str, pixels: int) -> None:
        """Spend `pixels` of the client's allowance, or refuse (spending nothing) with the wait."""
        with self._lock:
            now = self._clock()
            left = self._left(client, now)
            if pixels > left:
                missing = pixels - left
                wait_s = (
                    math.ceil(missing * 60.0 / self._capacity) if pixels <= self._capacity else 60
                )
                raise TooManyRequests(
                    f"Searches without signing in may decode {self._capacity / 1e6:.1f} "
                    f"megapixels a minute from one address; this image needs "
                    f"{pixels / 1e6:.1f} and {left / 1e6:.1f} are left. Try again in "
                    f"{_seconds(wait_s)}, or sign in.",
                    retry_after_s=wait_s,
                )
            if len(self._buckets) >= _MAX_TRACKED_CLIENTS:
                self._forget_full(now)
            self._buckets[client] = (left - pixels, now)

    def _left(self, client: str, now: float) -> float:
        spent_left, at = self._buckets.get(client, (self._capacity, now))
        return min(self._capacity, spent_left + (now - at) * self._capacity / 60.0)

    def _forget_full(self, now: float) -> None:
        full = [client for client in self._buckets if self._left(client, now) >= self._capacity]
        for client in full:
            del self._buckets[client]


def _seconds(count: int) -> str:
    return "1 second" if count == 1 else f"{count} seconds"
