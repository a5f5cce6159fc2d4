"""Per-host politeness: bounded concurrency and spaced request starts."""

import asyncio
import itertools

from similarity.crawl import HostPoliteness


def run_requests(
    politeness: HostPoliteness, hosts: list[str], hold_s: float
) -> tuple[list[float], int]:
    starts: list[float] = []
    active = 0
    peak = 0

    async def request(host: str) -> None:
        nonlocal active, peak
        async with politeness.slot(host):
            starts.append(asyncio.get_running_loop().time())
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


def test_concurrency_per_host_is_bounded() -> None:
    _, peak = run_requests(HostPoliteness(per_host_concurrency=2, delay_s=0.0), ["h"] * 6, 0.02)
    assert peak == 2


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
