"""Faults as benchmark phases: the log's sequencer and one of four crawlers killed mid-run.

Each phase runs the same work as its `bench scale` figure, kills one process with SIGKILL part
way, and reports what a user would ask afterwards: was anything lost or done twice, was any host
fetched impolitely, and how long the work stalled before another process took it over. The
servers' faults (Redis restarted, S3 stopped under background registration) are in
`bench.background_faults`.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bench.grid_site import GridShape, GridSite, politeness_violations
from bench.processes import (
    cli,
    index_problems,
    initialised_home,
    leaf_count,
    log_verifies,
    migrated_database,
    run_writers,
    sequencer_process,
)
from registry.db import make_engine, unit_of_work
from registry.models import persisted_id
from registry.monitoring.frontier import HOSTS, job_frontier_pages
from registry.monitoring.service import create_job

POLL_S = 0.05
# A killed crawler's hosts wait out its lease; shorter than the crawl default, longer than any
# stall of a live crawler on a loaded machine.
CRAWL_LEASE_S = 20.0
CRAWL_DELAY_S = 0.25
CRAWLERS = 4
# How long the log waits without a sequencer before the replacement is started.
REPLACEMENT_AFTER_S = 2.0


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll until `condition()` holds; the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting: {what}")
        time.sleep(POLL_S)
    return time.monotonic()


def sequencer_kill_figures(
    admin_url: str, work: Path, leaves: int, writers: int = 8
) -> dict[str, Any]:
    """8 writers append through a sequencer killed once a third of the leaves are in; a
    replacement is started 2 s later. Gaps, duplicates, `log verify`, and the stall."""
    url = migrated_database(admin_url, "copymark_bench_log_fault")
    env = initialised_home(work / "log-fault", url)
    engine = make_engine(url)
    given: dict[int, list[int]] = {}
    per_writer = max(1, leaves // writers)
    writing = threading.Thread(
        target=lambda: given.update(run_writers(url, writers, per_writer, group=8)),
        name="bench-log-writers",
    )
    first = subprocess.Popen(cli("log", "sequence"), env=env)  # noqa: S603 - our CLI
    started = time.monotonic()
    writing.start()
    try:
        _wait_until(lambda: leaf_count(engine) >= leaves // 3, 600, "a third of the leaves")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = time.monotonic()
    at_kill = leaf_count(engine)
    time.sleep(REPLACEMENT_AFTER_S)
    with sequencer_process(env):
        resumed_at = _wait_until(lambda: leaf_count(engine) > at_kill, 120, "the replacement")
        writing.join()
    seconds = time.monotonic() - started
    size = leaf_count(engine)
    engine.dispose()
    return {
        "writers": writers,
        "leaves": size,
        "leaves_before_the_kill": at_kill,
        "seconds": round(seconds, 2),
        "stalled_s": round(resumed_at - killed_at, 2),
        "replacement_started_after_s": REPLACEMENT_AFTER_S,
        **index_problems(given, size),
        "leaves_lost": writers * per_writer - size,
        "log_verify_ok": log_verifies(env),
    }


def crawler_kill_figures(admin_url: str, work: Path, pages: int) -> dict[str, Any]:
    """4 crawler processes share one job; one is killed once it holds a host. Pages fetched,
    never fetched, politeness violations, and whether the killed one's hosts were taken over."""
    hosts = 8
    shape = GridShape.reachable(hosts, pages)
    url = migrated_database(admin_url, "copymark_bench_crawl_fault")
    home = work / "crawl-fault"
    env = initialised_home(
        home,
        url,
        COPYMARK_CRAWL_DELAY_S=str(CRAWL_DELAY_S),
        COPYMARK_CRAWL_LEASE_S=str(CRAWL_LEASE_S),
        COPYMARK_CRAWL_HOSTS_PER_CRAWLER=str(hosts // CRAWLERS),
    )
    engine = make_engine(url)
    with GridSite(shape, work / "requests-fault.log") as site:
        with unit_of_work(partial(Session, engine)) as session:
            job_id = persisted_id(
                create_job(session, None, site.seeds(), shape.page_count() * 3, site.hosts())
            )
        join = cli("crawl", "--job", str(job_id), "--json")
        started = time.monotonic()
        crawlers = [
            subprocess.Popen(join, env=env, stderr=subprocess.DEVNULL)  # noqa: S603 - our CLI
            for _ in range(CRAWLERS)
        ]
        owner = ""

        def someone_holds_a_host() -> bool:
            nonlocal owner
            with engine.connect() as connection:
                owner = (
                    connection.execute(
                        select(HOSTS.c.lease_owner).where(HOSTS.c.lease_owner.is_not(None))
                    ).scalar()
                    or ""
                )
            return bool(owner)

        _wait_until(someone_holds_a_host, 600, "a crawler leasing a host")
        victim = next(c for c in crawlers if f":{c.pid}:" in owner)
        with engine.connect() as connection:
            held = set(
                connection.execute(
                    select(HOSTS.c.host).where(HOSTS.c.lease_owner == owner)
                ).scalars()
            )
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        failed = sum(c.wait(timeout=1800) != 0 for c in crawlers if c is not victim)
        seconds = time.monotonic() - started
        left = job_frontier_pages(engine, job_id)
        requests = site.requests()
        never_fetched = site.pages() - site.pages_served()
        violations, least_gap = politeness_violations(requests, CRAWL_DELAY_S, 0.1)
        taken_over = {host for host, arrived, _ in requests if arrived > killed_at}
    engine.dispose()
    return {
        "crawlers": CRAWLERS,
        "pages": shape.page_count(),
        "seconds": round(seconds, 2),
        "lease_s": CRAWL_LEASE_S,
        "pages_never_fetched": len(never_fetched),
        "frontier_left_pending_or_leased": left["pending"] + left["leased"],
        "crawlers_failed": failed,
        "politeness_violations": violations,
        "least_gap_s": round(least_gap, 3),
        "hosts_held_by_the_killed_crawler": len(held),
        "of_them_taken_over": len(held & taken_over),
    }
