"""List pages under load: the registry, the marketplace's searches and *My works* over 10,000 works.

The server is the real `copymark serve --workers processes` on a scratch home and a loopback
port, in processes of their own; then, as the baseline of the same run, one server process. Each
is measured once every one of its processes accepts connections.
Before each starts, the scratch database is filled directly with `works` public works of
one owner (two in three offered for licence at varied prices, types and AI-training flags):
what is measured is listing, not registration. Then `clients` concurrent clients fetch
`/healthz` for a few seconds (the baseline), and then the list pages round-robin, each as fast
as it is answered, for `seconds`.

Figures: p50/p95/max per page and over all list pages (target p95 ≤ 100 ms), requests answered
and non-2xx answers (target 0), the baseline /healthz p50/p95 under the same concurrency, the
load average before and after (the machine is shared: a loaded one slows every figure), and how
the clients' connections were split over the server processes (an uneven split slows a run).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import numpy as np
from sqlmodel import Session, create_engine

from bench.web import PASSWORD, served_scratch_home
from licensing.models import LicenseContract, LicenseOffer
from registry.accounts.service import create_user
from registry.models import Role, Work, persisted_id

OWNER: Final = "lister@copymark.test"
BASELINE_S: Final = 5.0
REQUEST_TIMEOUT_S: Final = 60.0
STARTUP_TIMEOUT_S: Final = 120.0
SUBJECTS: Final = ("koi", "crane", "heron", "lotus", "wave", "pine", "tiger", "plum", "moon", "fox")
STYLES: Final = ("ink", "woodblock", "watercolour", "vector", "photo")
PAGES: Final = {
    "registry": "/",
    "marketplace_search": "/?q=crane&tags=ink&sort=price_low",
    "marketplace_filtered": "/?type=wholesale&min_price=10&max_price=500&ai=1&page=3",
    "my_works": "/works",
}


def seed_works(database_url: str, works: int) -> None:
    """Fill a migrated database with one owner's public works and offers on two in three."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        owner = create_user(
            session, email=OWNER, password=PASSWORD, roles={Role.CREATOR}, display_name="Lister"
        )
        rows = [
            Work(
                owner_id=persisted_id(owner),
                title=f"{SUBJECTS[number % 10].title()} in {STYLES[number % 5]} {number}",
                description=f"A {STYLES[number % 5]} {SUBJECTS[(number // 10) % 10]}, no. {number}",
                tags=[SUBJECTS[number % 10], STYLES[number % 5]],
                sha256=f"{number:064x}",
                mime_type="image/jpeg",
                width=800,
                height=600,
                byte_size=100_000,
                log_index=number,
            )
            for number in range(works)
        ]
        session.add_all(rows)
        session.flush()
        offered = [work for number, work in enumerate(rows) if number % 3]
        contracts = [
            LicenseContract(
                contract_key=f"bench-{work.id}", work_id=persisted_id(work), owner_id=owner.id or 0
            )
            for work in offered
        ]
        session.add_all(contracts)
        session.flush()
        offers = []
        for number, (work, contract) in enumerate(zip(offered, contracts, strict=True)):
            price = 1_000 + (number * 7_919) % 99_000
            # Every third, whichever up-front offer it has: the filtered page asks for wholesale
            # offers that allow AI training, and must find some.
            ai_training = "allowed" if number % 3 == 0 else "not_allowed"
            for sale_type, package, price_minor in (
                ("retail", None, None),
                ("wholesale", "bundle", price) if number % 2 else ("buyout", None, price),
            ):
                offers.append(
                    LicenseOffer(
                        work_id=persisted_id(work),
                        contract_id=persisted_id(contract),
                        created_by=persisted_id(owner),
                        sale_type=sale_type,
                        package=package,
                        price_minor=price_minor,
                        price_milli=price_minor * 10 if price_minor is not None else None,
                        currency="USD",
                        ai_training=ai_training,
                    )
                )
        session.add_all(offers)
        session.commit()
    engine.dispose()


@dataclass
class _Latencies:
    by_page: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0

    def add(self, name: str, milliseconds: float) -> None:
        self.by_page.setdefault(name, []).append(milliseconds)


def run_list_benchmark(
    copymark: Sequence[str],
    models_dir: Path,
    *,
    works: int = 10_000,
    clients: int = 8,
    seconds: float = 30.0,
    processes: int = 2,
) -> dict[str, Any]:
    """Serve a scratch home holding `works` works with `processes` server processes and measure
    its list pages (module doc); the same measured with one process is the baseline."""
    seed_s = 0.0

    def seed(home: Path) -> None:
        nonlocal seed_s
        seed_started = time.monotonic()
        seed_works(f"sqlite:///{(home / 'copymark.db').resolve()}", works)
        seed_s = time.monotonic() - seed_started

    def measured(count: int) -> dict[str, Any]:
        with served_scratch_home(copymark, models_dir, seed, processes=count) as (base_url, server):
            port = int(base_url.rsplit(":", 1)[1])
            load_before = os.getloadavg()
            figures = asyncio.run(
                _measure(
                    base_url,
                    clients,
                    seconds,
                    count,
                    lambda: connections_per_process(server.pid, port),
                )
            )
            load_after = os.getloadavg()
        return {
            "server_processes": count,
            "load_average_1m_before": round(load_before[0], 2),
            "load_average_1m_after": round(load_after[0], 2),
            **figures,
        }

    baseline = measured(1)
    return {
        "works": works,
        "clients": clients,
        "seed_s": round(seed_s, 1),
        "cpu_count": os.cpu_count(),
        **measured(processes),
        "one_process": baseline,
    }


# The TCP state of an open connection, as the kernel's /proc/net/tcp writes it.
ESTABLISHED: Final = "01"


def tcp_sockets(port: int, state: str) -> set[str]:
    """The IPv4 sockets on local `port` in TCP `state`, named as a process's fd links name them."""
    sockets = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, socket_state, inode = fields[1], fields[3], fields[9]
        if socket_state == state and int(local.split(":")[1], 16) == port:
            sockets.add(f"socket:[{inode}]")
    return sockets


def connections_per_process(server_pid: int, port: int) -> list[int]:
    """How many established loopback connections on `port` the server process and each of its
    children hold, most first, read from the kernel's tables (Linux's /proc)."""
    established = tcp_sockets(port, ESTABLISHED)
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    held = []
    for pid in [server_pid, *map(int, children)]:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        count = sum(link in established for link in links)
        if count:
            held.append(count)
    return sorted(held, reverse=True)


async def _until_every_process_accepts(
    base_url: str, processes: int, split: Callable[[], list[int]]
) -> None:
    """Open `processes` connections at once until each process holds one of them: a process that
    accepts takes one of them, by least connections, and one still starting takes none."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        async with aiohttp.ClientSession(base_url) as probe:

            async def health() -> None:
                async with probe.get("/healthz") as answer:
                    answer.raise_for_status()

            await asyncio.gather(*(health() for _ in range(processes)))
            if len(split()) == processes:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not every one of the {processes} server processes accepted")
        await asyncio.sleep(0.2)


async def _measure(
    base_url: str, clients: int, seconds: float, processes: int, split: Callable[[], list[int]]
) -> dict[str, Any]:
    await _until_every_process_accepts(base_url, processes, split)
    # aiohttp, not httpx: the clients share the server's two cores, and aiohttp spends about a
    # third of httpx's CPU on a page (0.8 ms against 2.6), which would otherwise be the server's.
    connector = aiohttp.TCPConnector(limit=clients + 2)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # The server is an IP address, whose cookies aiohttp's jar keeps only when told to.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        base_url, connector=connector, timeout=timeout, cookie_jar=jar
    ) as client:
        credentials = {"email": OWNER, "password": PASSWORD}
        async with client.post("/login", data=credentials, allow_redirects=False) as signed_in:
            if signed_in.status not in (200, 303):
                raise RuntimeError(f"the bench owner could not sign in: {signed_in.status}")
        for path in PAGES.values():  # warm every page once: first-use costs are not listing's
            async with client.get(path) as warm:
                warm.raise_for_status()
        baseline = _Latencies()
        until = time.monotonic() + BASELINE_S
        await asyncio.gather(
            *(_loop(client, {"healthz": "/healthz"}, n, until, baseline) for n in range(clients))
        )
        lists = _Latencies()
        until = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(*(_loop(client, PAGES, n, until, lists) for n in range(clients)))
        elapsed = time.monotonic() - started
        connections = split()
    every = [value for values in lists.by_page.values() for value in values]
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "baseline_healthz_p50_ms": _percentile(baseline.by_page.get("healthz", []), 50),
        "baseline_healthz_p95_ms": _percentile(baseline.by_page.get("healthz", []), 95),
        "lists_p50_ms": _percentile(every, 50),
        "lists_p95_ms": _percentile(every, 95),
        "lists_max_ms": max(every, default=0.0),
        "lists_answered": len(every),
        "lists_per_s": round(len(every) / elapsed, 1),
        "lists_failures": lists.failures + baseline.failures,
        "connections_per_process": connections,
    }
    for name, values in lists.by_page.items():
        figures[f"{name}_p50_ms"] = _percentile(values, 50)
        figures[f"{name}_p95_ms"] = _percentile(values, 95)
    return figures


async def _loop(
    client: aiohttp.ClientSession,
    pages: dict[str, str],
    offset: int,
    until: float,
    into: _Latencies,
) -> None:
    """Fetch the pages round-robin until the deadline; only 2xx answers count as latencies."""
    names = list(pages)
    number = offset
    while time.monotonic() < until:
        name = names[number % len(names)]
        number += 1
        started = time.monotonic()
        try:
            async with client.get(pages[name], allow_redirects=False) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            into.failures += 1
            continue
        if status >= 300:
            into.failures += 1
            continue
        into.add(name, (time.monotonic() - started) * 1000)


def _percentile(values: Sequence[float], percent: float) -> float:
    return round(float(np.percentile(values, percent)), 1) if values else 0.0
