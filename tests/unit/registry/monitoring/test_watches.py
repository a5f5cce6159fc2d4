"""Watches: a due watch starts a crawl job and moves to its next run; others wait."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from registry.models import User, utcnow
from registry.monitoring.jobs import Monitor, run_due_watches
from registry.monitoring.models import CrawlJob, CrawlWatch, JobStatus
from registry.monitoring.service import create_watch
from tests.sites import LoopbackSite
from tests.unit.registry.wiring import RegistryParts


def test_a_due_watch_runs_a_job_and_is_rescheduled(
    parts: RegistryParts, alice: User, monitor: Monitor
) -> None:
    with LoopbackSite() as site, parts.session() as session:
        watch = create_watch(session, alice, [site.url("/unrelated")], 1, 86400)
        waiting = create_watch(session, alice, [site.url("/unrelated")], 1, 86400)
        waiting.next_run_at = utcnow() + timedelta(hours=1)
        session.commit()

        async def run() -> list[int]:
            started = await run_due_watches(monitor)
            await asyncio.gather(*monitor.tasks.values())
            return started

        (job_id,) = asyncio.run(run())
    with parts.session() as session:
        job = session.get(CrawlJob, job_id)
        rescheduled = session.get(CrawlWatch, watch.id)
        jobs = session.exec(select(CrawlJob)).all()
    assert job is not None
    assert job.watch_id == watch.id
    assert job.owner_id == alice.id
    # A watch carries no allow-list, so the network guard refuses the loopback seed: the job
    # ends saying so rather than finishing as if it had crawled.
    assert job.status == JobStatus.FAILED
    assert [(issue["url"], issue["kind"]) for issue in job.seed_issues] == [
        (site.url("/unrelated"), "refused")
    ]
    assert rescheduled is not None
    assert rescheduled.next_run_at > utcnow() + timedelta(hours=23)
    assert len(jobs) == 1
