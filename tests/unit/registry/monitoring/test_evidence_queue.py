"""Screenshots off the crawl path: a new alert's first bundle has none and queues an `evidence`
task in its transaction; the task logs a complete bundle with the screenshot, once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlmodel import col, func, select

from registry.log.models import LogLeaf
from registry.log.store import verify_log
from registry.models import persisted_id
from registry.monitoring.evidence import (
    MANIFEST_NAME,
    SCREENSHOT_NAME,
    SCREENSHOT_QUEUED,
    Screenshot,
    verify_bundle,
)
from registry.monitoring.jobs import Monitor, evidence_task
from registry.monitoring.models import Alert, ScreenshotStatus
from registry.monitoring.screenshots import Screenshotter
from registry.monitoring.service import EVIDENCE_TASK, create_job, record_copy
from registry.tasks.models import CompletedTask, OutboxTask
from registry.tasks.queue import TaskKinds
from registry.tasks.runner import run_once
from similarity.crawl.netguard import NetGuard, TargetRefusedError
from similarity.matcher import Match
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import (
    CrawlRun,
    Registered,
    gallery_seeds,
    queue_job,
)
from tests.unit.registry.monitoring.test_evidence import fetch, members
from tests.unit.registry.wiring import RegistryParts

PAGE_PNG = b"\x89PNG\r\n\x1a\n a rendered page"


@dataclass
class Camera:
    """A Screenshotter that renders every page as `PAGE_PNG`, or fails with `failure`; it
    remembers the pages it was asked for and the guards it was built with."""

    failure: str | None = None
    pages: list[str] = field(default_factory=list)
    guards: list[NetGuard] = field(default_factory=list)
    closed: int = 0

    def __call__(self, guard: NetGuard) -> Screenshotter:
        self.guards.append(guard)
        return self

    async def capture(self, url: str) -> Screenshot:
        self.pages.append(url)
        return Screenshot(None, self.failure) if self.failure else Screenshot(PAGE_PNG)

    async def close(self) -> None:
        self.closed += 1


@pytest.fixture
def camera() -> Camera:
    return Camera()


@pytest.fixture
def monitor(parts: RegistryParts, camera: Camera) -> Monitor:
    return parts.monitor(screenshots=camera)


@pytest.fixture
def first(
    parts: RegistryParts, registered: Registered, copy_site: LoopbackSite, run_crawl: CrawlRun
) -> list[Alert]:
    """The alerts of a crawl of alice's site of copies, as the crawl recorded them."""
    run_crawl(queue_job(parts, registered.owner, gallery_seeds(copy_site), max_pages=3))
    with parts.session() as session:
        alerts = list(session.exec(select(Alert).order_by(col(Alert.id))).all())
    assert len(alerts) == len(registered.works)
    return alerts


def run_evidence_tasks(parts: RegistryParts, monitor: Monitor) -> list[bool]:
    """Run every queued `evidence` task as a queue would deliver it; whether each completed."""
    kinds = TaskKinds([evidence_task(lambda: monitor)])
    with parts.session() as session:
        queued = session.exec(select(OutboxTask).where(OutboxTask.task == EVIDENCE_TASK)).all()
    return [run_once(parts.session, kinds, row.task, dict(row.args), row.key) for row in queued]


def evidence_leaves(parts: RegistryParts) -> int:
    with parts.session() as session:
        return session.exec(
            select(func.count()).select_from(LogLeaf).where(LogLeaf.event_type == "evidence")
        ).one()


def manifest_of(bundle: bytes) -> dict[str, object]:
    return dict(json.loads(members(bundle)[MANIFEST_NAME]))


def reloaded(parts: RegistryParts, alert: Alert) -> Alert:
    with parts.session() as session:
        found = session.get(Alert, alert.id)
    assert found is not None
    return found


def test_a_crawl_records_the_first_bundle_without_a_screenshot_and_queues_its_task(
    parts: RegistryParts, first: list[Alert], monitor: Monitor, camera: Camera
) -> None:
    alerts = first
    assert camera.pages == []
    with parts.session() as session:
        queued = session.exec(select(OutboxTask).where(OutboxTask.task == EVIDENCE_TASK)).all()
    assert sorted(row.key for row in queued) == sorted(
        f"evidence:{persisted_id(alert)}" for alert in alerts
    )
    for alert in alerts:
        assert alert.screenshot_status == ScreenshotStatus.PENDING
        bundle = monitor.evidence_blobs.get(alert.evidence_sha256)
        check = verify_bundle(bundle, monitor.signer.public_key)
        assert check.valid, check.reason
        assert check.log_index == alert.log_index
        assert SCREENSHOT_NAME not in members(bundle)
        assert manifest_of(bundle)["screenshot"] == {
            "taken": False,
            "skipped_reason": SCREENSHOT_QUEUED,
        }
    assert evidence_leaves(parts) == len(alerts)


def test_the_task_logs_a_complete_bundle_with_the_screenshot_and_the_alert_points_at_it(
    parts: RegistryParts, first: list[Alert], monitor: Monitor, camera: Camera
) -> None:
    assert run_evidence_tasks(parts, monitor) == [True] * len(first)
    assert sorted(camera.pages) == sorted(alert.page_url for alert in first)
    assert camera.closed == len(first)
    for before in first:
        after = reloaded(parts, before)
        assert after.screenshot_status == ScreenshotStatus.TAKEN
        assert after.screenshot_reason is None
        assert after.log_index > before.log_index
        complete = monitor.evidence_blobs.get(after.evidence_sha256)
        check = verify_bundle(complete, monitor.signer.public_key)
        assert check.valid, check.reason
        assert check.log_index == after.log_index
        assert members(complete)[SCREENSHOT_NAME] == PAGE_PNG
        # The first bundle stays in the store and on the log, and still verifies on its own.
        kept = monitor.evidence_blobs.get(before.evidence_sha256)
        first_check = verify_bundle(kept, monitor.signer.public_key)
        assert first_check.valid, first_check.reason
        assert first_check.log_index == before.log_index
        # The complete manifest keeps the first's capture facts and names the first bundle.
        first_manifest, manifest = manifest_of(kept), manifest_of(complete)
        assert manifest["completes"] == {
            "manifest_sha256": before.manifest_sha256,
            "log_index": before.log_index,
        }
        for fact in ("alert_id", "work_id", "page_url", "image_url", "captured_at", "fetches"):
            assert manifest[fact] == first_manifest[fact]
        assert set(members(complete)) == set(members(kept)) | {SCREENSHOT_NAME}
    assert evidence_leaves(parts) == 2 * len(first)
    with parts.session() as session:
        audit = verify_log(session, monitor.signer.public_key)
    assert audit.ok, audit.problem


def test_the_browser_is_held_to_the_crawls_network_rules(
    parts: RegistryParts, first: list[Alert], monitor: Monitor, camera: Camera
) -> None:
    alerts = first
    run_evidence_tasks(parts, monitor)
    # The job allowed 127.0.0.1, where the loopback site lives; a guard without it refuses it.
    with pytest.raises(TargetRefusedError):
        asyncio.run(NetGuard().vet(alerts[0].page_url))
    assert len(camera.guards) == len(alerts)
    for guard, page_url in zip(camera.guards, camera.pages, strict=True):
        asyncio.run(guard.vet(page_url))


def test_a_second_delivery_adds_nothing(
    parts: RegistryParts, first: list[Alert], monitor: Monitor, camera: Camera
) -> None:
    alerts = first
    run_evidence_tasks(parts, monitor)
    settled = [reloaded(parts, alert) for alert in alerts]
    leaves = evidence_leaves(parts)
    assert run_evidence_tasks(parts, monitor) == [False] * len(alerts)
    # Past the task's key too: a body run again finds every screenshot settled.
    for alert in alerts:
        with parts.session() as session:
            monitor.complete_evidence(session, persisted_id(alert), None)
            session.commit()
    assert evidence_leaves(parts) == leaves
    assert [reloaded(parts, alert) for alert in alerts] == settled
    assert len(camera.pages) == len(alerts)


def test_a_failed_capture_keeps_the_first_bundle_and_says_why(
    parts: RegistryParts, first: list[Alert], monitor: Monitor, camera: Camera
) -> None:
    camera.failure = "Chromium is not installed at /usr/bin/chromium"
    assert run_evidence_tasks(parts, monitor) == [True] * len(first)
    for before in first:
        after = reloaded(parts, before)
        assert after.screenshot_status == ScreenshotStatus.NOT_TAKEN
        assert after.screenshot_reason == camera.failure
        assert (after.evidence_sha256, after.log_index) == (
            before.evidence_sha256,
            before.log_index,
        )
    assert evidence_leaves(parts) == len(first)
    with parts.session() as session:
        done = session.exec(
            select(CompletedTask.key).where(CompletedTask.task == EVIDENCE_TASK)
        ).all()
    assert len(done) == len(first)


def test_an_alert_rolled_back_takes_its_evidence_task_with_it(
    parts: RegistryParts, registered: Registered
) -> None:
    work = registered.works["coffee"]
    pixels = np.full((64, 64, 3), 120, dtype=np.uint8)
    with parts.session() as session:
        job = create_job(session, registered.owner, ["https://shop.example/item"], 1)
        recorded = record_copy(
            session,
            signer=parts.signer,
            evidence_blobs=parts.evidence_blobs,
            job_id=persisted_id(job),
            work_id=persisted_id(work),
            work_sha256=work.sha256,
            match=Match(persisted_id(work), 0.9, True, None),
            page=fetch("https://shop.example/item", b"<img src=/x.png>", "text/html"),
            image=fetch("https://shop.example/x.png", b"\x89PNG\r\n\x1a\nfake", "image/png"),
            page_url="https://shop.example/item",
            image_url="https://shop.example/x.png",
            original_rgb=pixels,
            copy_rgb=pixels,
        )
        queued = session.exec(select(OutboxTask.key, OutboxTask.args)).all()
        assert queued == [
            (
                f"evidence:{persisted_id(recorded.alert)}",
                {"alert_id": persisted_id(recorded.alert), "job_id": persisted_id(job)},
            )
        ]
        session.rollback()
    with parts.session() as session:
        assert session.exec(select(func.count()).select_from(Alert)).one() == 0
        assert session.exec(select(func.count()).select_from(OutboxTask)).one() == 0
