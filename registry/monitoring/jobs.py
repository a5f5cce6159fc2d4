"""A crawl job killed at any point resumes without duplicate alerts or duplicate log leaves.

The frontier lives under `crawl_root/<job id>/`. An image URL is marked reported, and a page
done, only after the checks of everything queued before them committed, so a job killed in
between fetches that page and checks that image again on resume; recording it again finds the
alert (unique per work and image) and the sighting (unique per job, page and image) already
there and adds nothing. A job runs in a `crawl` task, on an event loop of its own; fingerprinting
and database work run in a worker thread.

The crawl takes no screenshot: a page render costs seconds, and crawling would wait for it. A new
alert is recorded with its first evidence bundle and, in the same transaction, an `evidence`
task (`evidence_task`) that renders the page under the job's network rules and logs the complete
bundle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

import numpy as np
from sqlalchemy import Engine, Table, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry.blobs import BlobStore
from registry.log.signing import LogSigner
from registry.models import Work, persisted_id, utcnow
from registry.monitoring.evidence import RGBArray, Screenshot, sha256_hex
from registry.monitoring.frontier import DEFAULT_HOSTS, DEFAULT_LEASE_S, SharedFrontier
from registry.monitoring.models import Alert, CrawlJob, JobStatus
from registry.monitoring.repository import indexed_works
from registry.monitoring.screenshots import ChromiumScreenshotter, Screenshotter
from registry.monitoring.service import (
    EVIDENCE_TASK,
    AlertHook,
    IsLicensed,
    LicensedDomains,
    complete_evidence,
    find_alert,
    notify_rights_holder,
    pending_screenshot,
    queue_due_watches,
    record_copy,
)
from registry.tasks.outbox import enqueue
from registry.tasks.queue import TaskArgs, TaskKind
from similarity.crawl.crawler import (
    CrawlConfig,
    Crawler,
    CrawlScope,
    ImageFound,
    PageFetched,
    Unchanged,
)
from similarity.crawl.fetcher import Fetcher, FetchLimits
from similarity.crawl.frontier import FrontierEntry, FrontierStore, SqliteFrontierStore
from similarity.crawl.netguard import NetGuard
from similarity.crawl.politeness import HostPoliteness
from similarity.crawl.records import PageIssue
from similarity.engine import SimilarityEngine
from similarity.images import ImageLimits, ImageRejected, LoadedImage, load_image
from similarity.matcher import Match, copies

logger = logging.getLogger(__name__)

CRAWL_JOBS = cast(Table, CrawlJob.__table__)  # type: ignore[attr-defined]
QUERY_MAX_SIDE: Final = 512
CRAWL_TASK: Final = "crawl"
CRAWL_TIME_LIMIT_S: Final = 3 * 3600.0
# A render waits at most 20 s for the page and 20 s for the picture; Chromium starts in seconds.
EVIDENCE_TIME_LIMIT_S: Final = 300.0
TOP_K: Final = 5


@dataclass(frozen=True)
class AlertLine:
    """One alert raised or seen again by a job, as `copymark crawl --json` prints it."""

    alert_id: int
    work_id: int
    page_url: str
    image_url: str
    score: float
    evidence_sha256: str
    log_index: int
    new: bool

    def to_json(self) -> dict[str, object]:
        """The printed fields."""
        return {
            "alert_id": self.alert_id,
            "work_id": self.work_id,
            "page_url": self.page_url,
            "image_url": self.image_url,
            "score": round(self.score, 4),
            "evidence_sha256": self.evidence_sha256,
            "log_index": self.log_index,
            "new": self.new,
        }


@dataclass(frozen=True)
class Progress:
    """A job's counters."""

    pages_fetched: int
    images_checked: int
    alerts: int


AlertListener = Callable[[AlertLine], None]
ProgressListener = Callable[[Progress], None]


@dataclass
class _Candidate:
    work: Work
    match: Match
    known: bool


@dataclass
class _Assessment:
    """A checked image: decoded, and the works it copies (none when it could not be decoded)."""

    image: LoadedImage | None
    candidates: list[_Candidate]

    def rgb(self) -> RGBArray:
        """The decoded copy; only an image that decoded can have candidates."""
        if self.image is None:
            raise RuntimeError("an undecodable image has no pixels")
        return self.image.rgb


@dataclass
class Monitor:
    """The monitoring use case wired to storage, the log signer and the similarity engine."""

    session_factory: Callable[[], Session]
    similarity: SimilarityEngine
    registry_blobs: BlobStore
    evidence_blobs: BlobStore
    signer: LogSigner
    limits: ImageLimits
    crawl_root: Path
    is_licensed: IsLicensed | None = None
    screenshots: Callable[[NetGuard], Screenshotter] = ChromiumScreenshotter
    politeness: Callable[[], HostPoliteness] = HostPoliteness
    fetch_limits: FetchLimits | None = None
    on_new_alert: AlertHook | None = notify_rights_holder
    # Where the frontier lives: None keeps each job's in a SQLite file under `crawl_root` (one
    # crawler per job); an engine shares it through the database, for several crawler processes.
    shared_frontier: Engine | None = None
    frontier_lease_s: float = DEFAULT_LEASE_S
    frontier_hosts: int = DEFAULT_HOSTS

    def __post_init__(self) -> None:
        if self.is_licensed is None:
            self.is_licensed = LicensedDomains(self.session_factory)

    async def run_job(
        self,
        job_id: int,
        *,
        on_alert: AlertListener | None = None,
        on_progress: ProgressListener | None = None,
    ) -> CrawlJob:
        """Crawl and check every image found; resumes a job that was interrupted."""
        job = await asyncio.to_thread(self._begin, job_id)
        politeness = self.politeness()
        frontier = self._frontier(job, politeness)
        guard = NetGuard(allow_hosts=job.allow_hosts)
        runner = _JobRun(
            self,
            job,
            frontier=frontier,
            politeness=politeness,
            on_alert=on_alert,
            on_progress=on_progress,
        )
        try:
            await runner.crawl(guard)
            failure = runner.nothing_crawled()
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(self._end, job_id, JobStatus.INTERRUPTED, None))
            raise
        except Exception as error:
            logger.exception("crawl %s failed", job_id)
            return await asyncio.to_thread(self._end, job_id, JobStatus.FAILED, str(error))
        finally:
            frontier.close()
        status = JobStatus.FINISHED if failure is None else JobStatus.FAILED
        return await asyncio.to_thread(self._end, job_id, status, failure)

    def complete_evidence(self, session: Session, alert_id: int, job_id: int | None) -> None:
        """Take a pending alert's screenshot and settle its evidence in `session`'s transaction.

        The page is rendered before `session` is first used, so no transaction (on SQLite, the
        write lock) is held for the seconds a render takes; the alert is read again in
        `session`, and one another delivery settled meanwhile is left as it is.
        """
        pending = self._pending(alert_id, job_id)
        if pending is None:
            return
        page_url, allow_hosts = pending
        screenshot = asyncio.run(self._capture(page_url, NetGuard(allow_hosts=allow_hosts)))
        settled = complete_evidence(
            session,
            alert_id=alert_id,
            screenshot=screenshot,
            signer=self.signer,
            evidence_blobs=self.evidence_blobs,
        )
        if settled is not None and screenshot.png is None:
            logger.warning(
                "alert %s keeps its first evidence bundle: %s", alert_id, settled.screenshot_reason
            )

    def _pending(self, alert_id: int, job_id: int | None) -> tuple[str, list[str]] | None:
        with self.session_factory() as session:
            alert = pending_screenshot(session, alert_id)
            if alert is None:
                return None
            job = None if job_id is None else session.get(CrawlJob, job_id)
            return alert.page_url, [] if job is None else list(job.allow_hosts)

    async def _capture(self, page_url: str, guard: NetGuard) -> Screenshot:
        screenshots = self.screenshots(guard)
        try:
            return await screenshots.capture(page_url)
        finally:
            await screenshots.close()

    def _frontier(self, job: CrawlJob, politeness: HostPoliteness) -> FrontierStore:
        if self.shared_frontier is None:
            return SqliteFrontierStore(self.crawl_root / str(persisted_id(job)))
        return SharedFrontier(
            self.shared_frontier,
            persisted_id(job),
            max_pages=job.max_pages,
            delay_for=politeness.delay_for,
            per_host_concurrency=politeness.per_host_concurrency,
            lease_s=self.frontier_lease_s,
            max_hosts=self.frontier_hosts,
        )

    def _begin(self, job_id: int) -> CrawlJob:
        with self.session_factory() as session:
            job = session.get(CrawlJob, job_id)
            if job is None:
                raise LookupError(f"crawl {job_id} does not exist")
            job.status = JobStatus.RUNNING
            job.started_at = job.started_at or utcnow()
            job.finished_at = None
            job.error = None
            session.add(job)
            session.commit()
            return job

    def _end(self, job_id: int, status: JobStatus, error: str | None) -> CrawlJob:
        with self.session_factory() as session:
            job = session.get(CrawlJob, job_id)
            if job is None:
                raise LookupError(f"crawl {job_id} does not exist")
            job.status = status
            job.error = None if error is None else error[:2000]
            job.finished_at = utcnow()
            session.add(job)
            session.commit()
            return job

    async def run_due_watches(self) -> list[int]:
        """Queue a job for every due watch, each run by a `crawl` task; returns their ids."""
        return await asyncio.to_thread(self._queue_due_watches)

    def _queue_due_watches(self) -> list[int]:
        with self.session_factory() as session:
            ids = [persisted_id(job) for job in queue_due_watches(session)]
            for job_id in ids:
                queue_crawl(session, job_id)
            session.commit()
        return ids

    async def watch_loop(self, poll_s: float = 60.0) -> None:
        """Run due watches every `poll_s` seconds until cancelled."""
        while True:
            try:
                await self.run_due_watches()
            except Exception:
                logger.exception("starting due watches failed")
            await asyncio.sleep(poll_s)

    def licensed(self, work_id: int, page_url: str) -> bool:
        """Whether the work is licensed for use on the page."""
        return self.is_licensed is not None and self.is_licensed(work_id, page_url)

    def original_of(self, work: Work) -> RGBArray:
        """The registered original, shrunk as queries are."""
        try:
            return load_image(
                self.registry_blobs.get(work.sha256), self.limits, max_side=QUERY_MAX_SIDE
            ).rgb
        except (KeyError, ImageRejected):
            return np.full((64, 64, 3), 200, dtype=np.uint8)


class _CommittedFrontier:
    """The frontier as the job has consumed it, not as the crawler has queued it.

    The crawler queues a page's events, marks the page done and remembers each image as soon as
    its event is queued; a job killed with events still queued would lose them. Here an image
    is remembered, and a page marked done, only once the job has processed every event queued
    before it. The crawler calls `remember_image` right after queueing an image's event and
    `mark_done` right after queueing all of a page's events, without yielding in between, so
    the order of these calls is the queue's order.
    """

    def __init__(self, store: FrontierStore) -> None:
        self._store = store
        self._calls = 0
        self._image_calls: dict[str, int] = {}
        self._pages_done: list[tuple[int, str]] = []

    def add(self, entries: Sequence[FrontierEntry]) -> int:
        return self._store.add(entries)

    def lease(self, limit: int) -> list[FrontierEntry]:
        return self._store.lease(limit)

    def mark_done(self, url: str) -> None:
        self._calls += 1
        self._pages_done.append((self._calls, url))

    def release_leases(self) -> int:
        return self._store.release_leases()

    def count(self, state: str) -> int:
        return self._store.count(state)

    def remember_image(self, url: str) -> None:
        self._calls += 1
        self._image_calls[url] = self._calls

    def knows_image(self, url: str) -> bool:
        return self._store.knows_image(url)

    def next_due(self) -> float | None:
        return self._store.next_due()

    def close(self) -> None:
        self._store.close()

    def processed(self, url: str) -> None:
        """The job processed the event of the image at `url` and every event before it."""
        position = self._image_calls.pop(url, None)
        if position is None:
            return
        self._store.remember_image(url)
        while self._pages_done and self._pages_done[0][0] < position:
            self._store.mark_done(self._pages_done.pop(0)[1])

    def finished(self) -> None:
        """Every event queued so far was processed."""
        for _position, url in self._pages_done:
            self._store.mark_done(url)
        self._pages_done.clear()


class _JobRun:
    def __init__(
        self,
        monitor: Monitor,
        job: CrawlJob,
        *,
        frontier: FrontierStore,
        politeness: HostPoliteness,
        on_alert: AlertListener | None,
        on_progress: ProgressListener | None,
    ) -> None:
        self.monitor = monitor
        self.job = job
        self.job_id = persisted_id(job)
        self.frontier = frontier
        self.politeness = politeness
        self.on_alert = on_alert
        self.on_progress = on_progress
        self.images_checked = job.images_checked
        self.alerts = job.alerts
        self.pages_fetched = job.pages_fetched
        # What the job row already counts; progress is saved as increments past it, so that
        # several crawler processes working one job add up instead of overwriting each other.
        self.saved = Progress(job.pages_fetched, job.images_checked, job.alerts)
        self.seeds = frozenset(job.seeds)
        self.seed_issues = list(job.seed_issues)

    def nothing_crawled(self) -> str | None:
        """Why the job fetched nothing when every seed was refused or failed; else None."""
        if self.pages_fetched or len({issue["url"] for issue in self.seed_issues}) < len(
            self.seeds
        ):
            return None
        reasons = "; ".join(
            f"{i['url']} {i['kind'].replace('_', ' ')}: {i['message']}" for i in self.seed_issues
        )
        return f"no seed could be crawled: {reasons}"

    def seed_issue(self, issue: PageIssue) -> bool:
        """Keep a problem met on a seed itself (not on a page or image it led to)."""
        if issue.page_url is not None or issue.url not in self.seeds:
            return False
        if any(known["url"] == issue.url for known in self.seed_issues):
            return False
        self.seed_issues.append(
            {"url": issue.url, "kind": issue.kind.value, "message": issue.message[:500]}
        )
        return True

    async def crawl(self, guard: NetGuard) -> None:
        seeds = tuple(self.job.seeds)
        config = CrawlConfig(
            seeds=seeds,
            scope=CrawlScope.of_seeds(seeds, max_pages=self.job.max_pages),
            robots_before_queue=self.monitor.shared_frontier is None,
        )
        frontier = _CommittedFrontier(self.frontier)
        async with Fetcher(
            guard, limits=self.monitor.fetch_limits, politeness=self.politeness
        ) as fetcher:
            crawler = Crawler(config, fetcher, frontier)
            async for event in crawler.events():
                if isinstance(event, ImageFound):
                    await self.check(event)
                    frontier.processed(event.image_url)
                elif isinstance(event, PageIssue):
                    frontier.processed(event.url)
                    if self.seed_issue(event):
                        await asyncio.to_thread(self.save_progress, self.progress())
                elif isinstance(event, Unchanged):
                    self.pages_fetched += 1
                    frontier.processed(event.url)
                elif isinstance(event, PageFetched):
                    self.pages_fetched += 1
                    await asyncio.to_thread(self.save_progress, self.progress())
                if crawler.backlog == 0:
                    # Every event queued so far is processed: the pages behind them are done.
                    frontier.finished()
        await asyncio.to_thread(self.save_progress, self.progress())

    def _count(self, session: Session, progress: Progress) -> None:
        """Add the counts past `saved` to the job row in the session's transaction."""
        session.execute(
            update(CRAWL_JOBS)
            .where(CRAWL_JOBS.c.id == self.job_id)
            .values(
                pages_fetched=CRAWL_JOBS.c.pages_fetched
                + (progress.pages_fetched - self.saved.pages_fetched),
                images_checked=CRAWL_JOBS.c.images_checked
                + (progress.images_checked - self.saved.images_checked),
                alerts=CRAWL_JOBS.c.alerts + (progress.alerts - self.saved.alerts),
            )
        )

    def progress(self) -> Progress:
        """The counters: pages fetched (a refused or failed page is not), images, alerts."""
        return Progress(self.pages_fetched, self.images_checked, self.alerts)

    def save_progress(self, progress: Progress) -> None:
        with self.monitor.session_factory() as session:
            self._count(session, progress)
            self.saved = progress
            job = session.get(CrawlJob, self.job_id)
            if job is not None and self.seed_issues:
                known = {issue["url"] for issue in job.seed_issues}
                job.seed_issues = job.seed_issues + [
                    issue for issue in self.seed_issues if issue["url"] not in known
                ]
                session.add(job)
            session.commit()
        if self.on_progress is not None:
            self.on_progress(progress)

    async def check(self, found: ImageFound) -> None:
        assessed = await asyncio.to_thread(self.assess, found)
        lines = await asyncio.to_thread(self.record, found, assessed)
        if self.on_alert is not None:
            for line in lines:
                self.on_alert(line)

    def assess(self, found: ImageFound) -> _Assessment | None:
        try:
            image = load_image(found.image.content, self.monitor.limits, max_side=QUERY_MAX_SIDE)
        except ImageRejected:
            return None
        acted_on = alertable(self.monitor.similarity.search(image, top_k=TOP_K))
        if not acted_on:
            return _Assessment(image, [])
        # The licence check opens its own session: ask it before taking the write lock below.
        licensed = {m.work_id for m in acted_on if self.monitor.licensed(m.work_id, found.page_url)}
        image_sha256 = sha256_hex(found.image.content)
        with self.monitor.session_factory() as session:
            ids = [m.work_id for m in acted_on if m.work_id not in licensed]
            works = {work.id: work for work in indexed_works(session, ids, self.job.owner_id)}
            candidates = [
                _Candidate(
                    works[m.work_id],
                    m,
                    find_alert(session, m.work_id, image_sha256, found.image_url) is not None,
                )
                for m in acted_on
                if m.work_id in works
            ]
        return _Assessment(image, candidates)

    def record(
        self,
        found: ImageFound,
        assessed: _Assessment | None,
    ) -> list[AlertLine]:
        if assessed is None:
            assessed = _Assessment(None, [])
        originals = {
            c.work.id: self.monitor.original_of(c.work) for c in assessed.candidates if not c.known
        }
        for attempt in range(2):
            try:
                return self._record_once(found, assessed, originals)
            except IntegrityError:
                # Another job raised the same alert first; the retry finds it and adds a sighting.
                if attempt == 1:
                    raise
        return []

    def _record_once(
        self,
        found: ImageFound,
        assessed: _Assessment,
        originals: dict[int | None, RGBArray],
    ) -> list[AlertLine]:
        lines: list[AlertLine] = []
        new_alerts = 0
        with self.monitor.session_factory() as session:
            for candidate in assessed.candidates:
                copy_rgb = assessed.rgb()
                work = candidate.work
                recorded = record_copy(
                    session,
                    signer=self.monitor.signer,
                    evidence_blobs=self.monitor.evidence_blobs,
                    job_id=self.job_id,
                    work_id=persisted_id(work),
                    work_sha256=work.sha256,
                    match=candidate.match,
                    page=found.page,
                    image=found.image,
                    page_url=found.page_url,
                    image_url=found.image_url,
                    original_rgb=originals.get(work.id, copy_rgb),
                    copy_rgb=copy_rgb,
                    on_new_alert=self.monitor.on_new_alert,
                )
                new_alerts += recorded.new_alert
                if recorded.new_sighting:
                    lines.append(_line(recorded.alert, found, candidate.match, recorded.new_alert))
            saved = self.saved
            counted = Progress(
                saved.pages_fetched, saved.images_checked + 1, saved.alerts + new_alerts
            )
            self._count(session, counted)
            session.commit()
        self.saved = counted
        self.images_checked += 1
        self.alerts += new_alerts
        return lines


def alertable(matches: Sequence[Match]) -> list[Match]:
    """The works an image copies: every verified one, else the best `copy` alone; never a
    `possible` match.

    An alert tells a rights holder to act and leads to a notice, so only the engine's `copy`
    verdict raises one (geometrically verified, or a calibrated p_copy of at least 0.99); a
    match that merely looks alike raises nothing. One alert per image keeps triage clean, while
    a collage of several works still alerts for each work it verifiably contains.
    """
    found = copies(matches)
    verified = [match for match in found if match.verified]
    return verified or found[:1]


def _line(alert: Alert, found: ImageFound, match: Match, new: bool) -> AlertLine:
    return AlertLine(
        alert_id=persisted_id(alert),
        work_id=alert.work_id,
        page_url=found.page_url,
        image_url=found.image_url,
        score=match.score,
        evidence_sha256=alert.evidence_sha256,
        log_index=alert.log_index,
        new=new,
    )


async def run_due_watches(monitor: Monitor) -> list[int]:
    """Queue a job for every due watch; `crawl` tasks run them once the queueing commits."""
    return await monitor.run_due_watches()


def queue_crawl(session: Session, job_id: int) -> None:
    """Run the job in a `crawl` task once the session's transaction commits."""
    enqueue(session, CRAWL_TASK, {"job_id": job_id}, f"{CRAWL_TASK}:{job_id}")


def crawl_task(monitor: Callable[[], Monitor]) -> TaskKind:
    """The `crawl` task: run a job to its end on its own event loop, resuming where it stopped.

    A job redelivered after its worker died resumes from its frontier; one redelivered after it
    finished finds every page done and ends at once.
    """

    def run(_session: Session, args: TaskArgs) -> None:
        asyncio.run(monitor().run_job(int(args["job_id"])))

    return TaskKind(name=CRAWL_TASK, queue="crawl", run=run, time_limit_s=CRAWL_TIME_LIMIT_S)


def evidence_task(monitor: Callable[[], Monitor]) -> TaskKind:
    """The `evidence` task: take a new alert's screenshot and log its complete evidence bundle.

    Idempotent by its key (`evidence:<alert id>`), and again by the alert's screenshot status: a
    delivery that finds the screenshot settled does nothing. A capture that fails (the page is
    gone, Chromium is missing) settles it too, with the reason, so the task is not retried
    forever; the alert keeps its first bundle.
    """

    def run(session: Session, args: TaskArgs) -> None:
        job_id = args.get("job_id")
        monitor().complete_evidence(
            session, int(args["alert_id"]), None if job_id is None else int(job_id)
        )

    return TaskKind(
        name=EVIDENCE_TASK, queue="evidence", run=run, time_limit_s=EVIDENCE_TIME_LIMIT_S
    )


async def cancel(task: asyncio.Task[CrawlJob]) -> None:
    """Cancel a running job and wait until it has recorded its interruption."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
