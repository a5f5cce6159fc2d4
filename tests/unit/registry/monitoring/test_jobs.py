"""Crawling a site with copies of registered works: alerts, sightings, evidence, resume."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, func, select

from registry.log.models import LogLeaf
from registry.models import persisted_id
from registry.monitoring.evidence import verify_bundle
from registry.monitoring.jobs import Monitor, cancel
from registry.monitoring.models import Alert, CrawlJob, JobStatus, Sighting
from registry.monitoring.service import NEW_ALERT_KIND, add_licensed_domain
from registry.notifications.models import Notification
from similarity.matcher import Match
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import (
    CrawlRun,
    Registered,
    gallery_seeds,
    make_user,
    queue_job,
)
from tests.unit.registry.wiring import RegistryParts


def alerts_and_leaves(parts: RegistryParts) -> tuple[int, int, int]:
    with parts.session() as session:
        alerts = session.exec(select(func.count()).select_from(Alert)).one()
        sightings = session.exec(select(func.count()).select_from(Sighting)).one()
        leaves = session.exec(
            select(func.count()).select_from(LogLeaf).where(LogLeaf.event_type == "evidence")
        ).one()
    return alerts, sightings, leaves


def test_crawl_alerts_on_every_copy_and_nothing_else(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    job_id = queue_job(parts, registered.owner, gallery_seeds(copy_site), max_pages=3)
    job, lines = run_crawl(job_id)
    assert job.status == JobStatus.FINISHED
    alerted = {line.work_id for line in lines if line.new}
    assert alerted == {work.id for work in registered.works.values()}
    assert all("unrelated" not in line.image_url for line in lines)
    assert all("rocket" not in line.image_url for line in lines)
    assert copy_site.disallowed_hits() == 0


def test_same_image_on_two_pages_is_one_alert_with_two_sightings(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    run_crawl(queue_job(parts, registered.owner, gallery_seeds(copy_site), max_pages=3))
    astronaut = registered.works["astronaut"].id
    with parts.session() as session:
        alerts = session.exec(select(Alert).where(Alert.work_id == astronaut)).all()
        assert len(alerts) == 1
        pages = session.exec(
            select(Sighting.page_url).where(Sighting.alert_id == alerts[0].id)
        ).all()
    assert sorted(pages) == sorted(gallery_seeds(copy_site)[:2])


def test_recrawl_adds_sightings_not_alerts(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    seeds = gallery_seeds(copy_site)
    run_crawl(queue_job(parts, registered.owner, seeds, max_pages=3))
    alerts, sightings, leaves = alerts_and_leaves(parts)
    _, lines = run_crawl(queue_job(parts, registered.owner, seeds, max_pages=3))
    assert lines
    assert not any(line.new for line in lines)
    assert alerts_and_leaves(parts) == (alerts, 2 * sightings, leaves)


def test_every_alert_has_evidence_that_verifies(
    parts: RegistryParts,
    registered: Registered,
    copy_site: LoopbackSite,
    run_crawl: CrawlRun,
    monitor: Monitor,
) -> None:
    run_crawl(queue_job(parts, registered.owner, gallery_seeds(copy_site), max_pages=3))
    with parts.session() as session:
        alerts = session.exec(select(Alert)).all()
    assert alerts
    for alert in alerts:
        check = verify_bundle(
            monitor.evidence_blobs.get(alert.evidence_sha256), monitor.signer.public_key
        )
        assert check.valid, check.reason
        assert check.log_index == alert.log_index
        assert check.event is not None
        assert check.event.work_id == alert.work_id


def test_licensed_domain_raises_no_alert(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    coffee = registered.works["coffee"]
    with parts.session() as session:
        add_licensed_domain(session, registered.owner, persisted_id(coffee), "127.0.0.1")
        session.commit()
    _, lines = run_crawl(queue_job(parts, registered.owner, gallery_seeds(copy_site), 3))
    assert lines
    assert coffee.id not in {line.work_id for line in lines}


def test_a_rights_holders_crawl_only_alerts_on_their_own_works(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    stranger = make_user(parts, "stranger@example.com")
    job, lines = run_crawl(queue_job(parts, stranger, gallery_seeds(copy_site), 3))
    assert job.images_checked > 0
    assert lines == []


def test_cancelled_crawl_resumes_without_duplicates(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, monitor: Monitor
) -> None:
    seeds = gallery_seeds(copy_site)

    async def crawl_cancelled_after_first_alert(job_id: int) -> None:
        first_alert = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            monitor.run_job(job_id, on_alert=lambda _line: first_alert.set())
        )
        await asyncio.wait_for(first_alert.wait(), timeout=120)
        await cancel(task)

    interrupted = queue_job(parts, None, seeds, max_pages=3)
    asyncio.run(crawl_cancelled_after_first_alert(interrupted))
    with parts.session() as session:
        job = session.get(CrawlJob, interrupted)
        assert job is not None
        assert job.status == JobStatus.INTERRUPTED
    asyncio.run(monitor.run_job(interrupted))

    uninterrupted = queue_job(parts, None, seeds, max_pages=3)
    asyncio.run(monitor.run_job(uninterrupted))
    with parts.session() as session:

        def sightings_of_job(job_id: int) -> list[tuple[int, str, str]]:
            rows = session.exec(
                select(Sighting.alert_id, Sighting.page_url, Sighting.image_url)
                .where(Sighting.job_id == job_id)
                .order_by(col(Sighting.alert_id), col(Sighting.image_url))
            ).all()
            return [(alert, page, image) for alert, page, image in rows]

        assert sightings_of_job(interrupted) == sightings_of_job(uninterrupted)
        alerts = session.exec(select(func.count()).select_from(Alert)).one()
        leaves = session.exec(
            select(func.count()).select_from(LogLeaf).where(LogLeaf.event_type == "evidence")
        ).one()
    assert alerts == leaves == len(registered.works)


def test_each_new_alert_notifies_the_rights_holder_once(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> None:
    seeds = gallery_seeds(copy_site)
    run_crawl(queue_job(parts, registered.owner, seeds, max_pages=3))
    run_crawl(queue_job(parts, registered.owner, seeds, max_pages=3))
    with parts.session() as session:
        notified = session.exec(
            select(Notification.payload).where(
                Notification.user_id == registered.owner.id, Notification.kind == NEW_ALERT_KIND
            )
        ).all()
        alert_ids = [persisted_id(alert) for alert in session.exec(select(Alert)).all()]
    assert sorted(payload["alert_id"] for payload in notified) == sorted(alert_ids)


def test_an_unverified_look_alike_raises_no_alert(
    parts: RegistryParts,
    registered: Registered,
    copy_site: LoopbackSite,
    run_crawl: CrawlRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every image on the site resembles the coffee photo, strongly but unverified: the evidence
    # that made unrelated clip art "copies" before. A possible match alerts nobody.
    coffee = persisted_id(registered.works["coffee"])
    look_alike = Match(coffee, 0.6, False, None, p_copy=0.9, embedding_margin=0.72)
    assert look_alike.decision == "possible"
    monkeypatch.setattr(parts.similarity, "search", lambda *_args, **_kwargs: [look_alike])
    job, lines = run_crawl(queue_job(parts, registered.owner, gallery_seeds(copy_site), 3))
    assert job.status == JobStatus.FINISHED
    assert job.images_checked > 0
    assert lines == []
    assert alerts_and_leaves(parts) == (0, 0, 0)
