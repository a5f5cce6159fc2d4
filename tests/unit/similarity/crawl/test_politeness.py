"""Per-host politeness: bounded concurrency and requests sent at least the delay apart."""

import asyncio
import itertools

from similarity.crawl import HostPoliteness


def run_requests(
    politeness: HostPoliteness, hosts: list[str], hold_s: float, *, sent_at_once: bool = True
) -> tuple[list[float], int]:
    starts: list[float] = []
    active = 0
    peak = 0

    async def request(host: str) -> None:
        nonlocal active, peak
        async with politeness.slot(host) as sent:
            starts.append(asyncio.get_running_loop().time())
            if sent_at_once:
                sent()
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(hold_s)
            active -= 1

    async def go() -> None:
        await asyncio.gather(*(request(host) for host in hosts))

    asyncio.run(go())
    return sorted(starts), peak


def test_requests_to_one_host_start_at_least_the_delay_apart() -> None:
    starts, _ = run_requests(HostPoliteness(per_host_concurrency=4, delay_s=0.05), ["h"] * 4, 0.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.045


def test_a_request_held_up_after_its_turn_holds_back_the_next_one() -> None:
    """Both wait on one busy resource (a blocked event loop, a connection being opened): the
    second goes out the delay after the first went out, not together with it."""
    politeness = HostPoliteness(per_host_concurrency=2, delay_s=0.05)
    sent_at: list[float] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        free = asyncio.Event()
        loop.call_later(0.2, free.set)

        async def request() -> None:
            async with politeness.slot("h") as sent:
                await free.wait()
                sent_at.append(loop.time())
                sent()

        await asyncio.gather(request(), request())

    asyncio.run(go())
    assert sent_at[1] - sent_at[0] >= 0.045


def test_concurrency_per_host_is_bounded() -> None:
    _, peak = run_requests(HostPoliteness(per_host_concurrency=2, delay_s=0.0), ["h"] * 6, 0.02)
    assert peak == 2


def test_without_a_delay_requests_to_a_host_go_out_together_up_to_the_limit() -> None:
    _, peak = run_requests(
        HostPoliteness(per_host_concurrency=3, delay_s=0.0), ["h"] * 6, 0.02, sent_at_once=False
    )
    assert peak == 3


def test_other_hosts_are_not_held_up() -> None:
    _, peak = run_requests(
        HostPoliteness(per_host_concurrency=1, delay_s=0.0), ["a", "b", "c"], 0.02
    )
    assert peak == 3


def test_crawl_delay_never_lowers_the_default_and_is_capped() -> None:
    politeness = HostPoliteness(delay_s=1.0, max_delay_s=10.0)
    politeness.request_delay("slow", 0.1)
    politeness.request_delay("slower", 3600)
    assert (politeness.delay_for("slow"), politeness.delay_for("slower")) == (1.0, 10.0)
