"""At most `per_host_concurrency` requests run against one host, and each goes out `delay` after
the one before went out.

A request's turn on its host lasts until it was sent (its response's headers are in): a request
held up after its turn came (a busy event loop, a connection being opened) would otherwise go out
together with the next one, whose delay ran from that turn instead of from the sending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _HostGate:
    slots: asyncio.Semaphore
    delay_s: float
    next_start: float = 0.0
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostPoliteness:
    """Per-host concurrency limit and minimum delay between request starts."""

    def __init__(
        self, *, per_host_concurrency: int = 2, delay_s: float = 1.0, max_delay_s: float = 30.0
    ) -> None:
        if per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be at least 1")
        self._per_host_concurrency = per_host_concurrency
        self._delay_s = delay_s
        self._max_delay_s = max_delay_s
        self._gates: dict[str, _HostGate] = {}

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = _HostGate(asyncio.Semaphore(self._per_host_concurrency), self._delay_s)
            self._gates[host] = gate
        return gate

    def request_delay(self, host: str, delay_s: float) -> None:
        """Slow down on `host` (robots.txt Crawl-delay); never faster than the default, capped."""
        gate = self._gate(host)
        gate.delay_s = min(max(self._delay_s, delay_s), self._max_delay_s)

    @property
    def per_host_concurrency(self) -> int:
        """How many requests may run against one host at once."""
        return self._per_host_concurrency

    def delay_for(self, host: str) -> float:
        """The delay now applied between request starts on `host`."""
        return self._gate(host).delay_s

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[Callable[[], None]]:
        """Hold one of `host`'s request slots; yields `sent`, to call once the request went out
        and its response's headers are in (or it ends, whichever comes first)."""
        gate = self._gate(host)
        loop = asyncio.get_running_loop()
        async with gate.slots:
            await gate.turn.acquire()
            turn_held = True

            def sent() -> None:
                nonlocal turn_held
                if turn_held:
                    gate.next_start = max(gate.next_start, loop.time() + gate.delay_s)
                    gate.turn.release()
                    turn_held = False

            try:
                wait = gate.next_start - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                gate.next_start = loop.time() + gate.delay_s
                if gate.delay_s <= 0:
                    # No spacing to keep: the host's other slots may go out at once.
                    sent()
                yield sent
            finally:
                sent()
