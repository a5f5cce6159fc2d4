"""Monitoring use cases: crawl jobs and watches, the licensed-domain allow-list, alert triage, and
recording a copy found (one alert per work and image, its evidence leaf in the same transaction).

Services take the session and the acting user and never commit; the request or job wrapper does.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session

from registry.blobs import BlobStore
from registry.errors import Conflict, NotFound
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog
from registry.messages import N_, Message
from registry.models import User, Work, persisted_id, utcnow
from registry.monitoring import repository
from registry.monitoring.errors import (
    CrawlQuotaExceeded,
    ForbiddenHost,
    InvalidCrawl,
    InvalidTriage,
    MonitoringNotAllowed,
)
from registry.monitoring.evidence import (
    SCREENSHOT_QUEUED,
    SIDE_BY_SIDE_NAME,
    Capture,
    IncompleteBundle,
    LoggedEvidence,
    RGBArray,
    Screenshot,
    complete_bundle,
    log_evidence,
    sha256_hex,
)
from registry.monitoring.models import (
    MAX_PAGES_LIMIT,
    MAX_SEEDS,
    MAX_WATCH_INTERVAL_S,
    MIN_WATCH_INTERVAL_S,
    MONITORING_ROLES,
    Alert,
    AlertStatus,
    CrawlJob,
    CrawlWatch,
    LicensedDomain,
    ScreenshotStatus,
    Sighting,
)
from registry.notifications.service import notify
from registry.repository import get_owned_work
from registry.tasks.outbox import enqueue
from similarity.crawl.records import FetchRecord
from similarity.crawl.urls import InvalidUrlError, canonical_host, host_within, parse_web_url
from similarity.matcher import Match

IsLicensed = Callable[[int, str], bool]
AlertHook = Callable[[Session, Alert], None]

EVIDENCE_TASK: Final = "evidence"

# A takedown notice accuses someone, so a person confirms the alert before one is sent: a new
# alert cannot jump to takedown_sent, and drafts exist only from confirmation on.
ALLOWED_TRANSITIONS: Final[dict[AlertStatus, frozenset[AlertStatus]]] = {
    AlertStatus.NEW: frozenset(
        {AlertStatus.CONFIRMED, AlertStatus.DISMISSED, AlertStatus.LICENSED}
    ),
    AlertStatus.CONFIRMED: frozenset(
        {AlertStatus.DISMISSED, AlertStatus.LICENSED, AlertStatus.TAKEDOWN_SENT}
    ),
    AlertStatus.TAKEDOWN_SENT: frozenset({AlertStatus.RESOLVED, AlertStatus.LICENSED}),
    AlertStatus.DISMISSED: frozenset({AlertStatus.NEW}),
    AlertStatus.LICENSED: frozenset({AlertStatus.NEW}),
    AlertStatus.RESOLVED: frozenset({AlertStatus.NEW}),
}

NOTICE_STATUSES: Final = frozenset(
    {AlertStatus.CONFIRMED, AlertStatus.TAKEDOWN_SENT, AlertStatus.RESOLVED}
)


def notices_allowed(alert: Alert) -> bool:
    """Whether takedown notices may be drafted: only once a person has confirmed the alert."""
    return alert.status in NOTICE_STATUSES


def check_seeds(seeds: Sequence[str]) -> list[str]:
    """The seeds as canonical URLs; a bad one raises InvalidCrawl naming it."""
    if not seeds:
        raise InvalidCrawl(N_("give at least one seed URL"))
    if len(seeds) > MAX_SEEDS:
        raise InvalidCrawl(N_("at most %(count)s seed URLs per crawl"), count=MAX_SEEDS)
    checked = []
    for seed in seeds:
        try:
            checked.append(str(parse_web_url(seed)))
        except InvalidUrlError as error:
            raise InvalidCrawl(
                N_("seed %(seed)s is not a web URL: %(reason)s"),
                seed=repr(seed[:200]),
                reason=str(error),
            ) from None
    return checked


def _check_max_pages(max_pages: int) -> None:
    if not 1 <= max_pages <= MAX_PAGES_LIMIT:
        raise InvalidCrawl(N_("max_pages must be between 1 and %(most)s"), most=MAX_PAGES_LIMIT)


def create_job(
    session: Session,
    owner: User | None,
    seeds: Sequence[str],
    max_pages: int,
    allow_hosts: Sequence[str] = (),
    *,
    permitted_hosts: Sequence[str] | None = None,
    watch_id: int | None = None,
) -> CrawlJob:
    """Queue a crawl; `allow_hosts` must be among `permitted_hosts` unless that is None (operator).

    Allowed hosts skip the network guard's address checks, so an account may only name the
    hosts the operator opened (COPYMARK_CRAWL_ALLOW_HOSTS).
    """
    _check_max_pages(max_pages)
    hosts = sorted({_allowed_host(host) for host in allow_hosts})
    if permitted_hosts is not None:
        refused = set(hosts) - {canonical_host(host) for host in permitted_hosts}
        if refused:
            raise ForbiddenHost(
                N_("crawls may not be allowed to reach %(hosts)s"), hosts=str(sorted(refused))
            )
    job = CrawlJob(
        owner_id=None if owner is None else persisted_id(owner),
        watch_id=watch_id,
        seeds=check_seeds(seeds),
        allow_hosts=hosts,
        max_pages=max_pages,
    )
    session.add(job)
    session.flush()
    return job


@dataclass(frozen=True)
class CrawlQuota:
    """How many crawls one account may start in a trailing day, and have queued or running."""

    per_day: int = 20
    at_once: int = 2


QUOTA_WINDOW: Final = timedelta(days=1)
BUSY_RETRY_AFTER_S: Final = 60


def check_may_monitor(user: User) -> None:
    """Crawls and watches reach out to the web for their account: only monitoring roles may."""
    if not any(user.has_role(role) for role in MONITORING_ROLES):
        allowed = " or ".join(sorted(role.value for role in MONITORING_ROLES))
        raise MonitoringNotAllowed(
            N_("monitoring the web is for the %(allowed)s role; this account has %(roles)s"),
            allowed=allowed,
            roles=", ".join(user.roles) or Message(N_("no roles")),
        )


def _check_quota(session: Session, owner: User, quota: CrawlQuota, now: datetime) -> None:
    active = repository.active_crawl_count(session, owner)
    if active >= quota.at_once:
        raise CrawlQuotaExceeded(
            N_(
                "you have %(count)s crawls queued or running, the most an account may have at "
                "once; start this one when one of them has finished"
            ),
            retry_after_s=BUSY_RETRY_AFTER_S,
            count=active,
        )
    started = repository.crawl_start_times(session, owner, now - QUOTA_WINDOW)
    if len(started) >= quota.per_day:
        frees_up = started[len(started) - quota.per_day] + QUOTA_WINDOW
        raise CrawlQuotaExceeded(
            N_(
                "you have started %(count)s crawls in the last 24 hours, the most an account "
                "may; the next one is allowed at %(when)s"
            ),
            retry_after_s=int((frees_up - now).total_seconds()) + 1,
            count=len(started),
            when=frees_up.isoformat(timespec="seconds"),
        )


def request_crawl(
    session: Session,
    owner: User,
    seeds: Sequence[str],
    max_pages: int,
    allow_hosts: Sequence[str],
    *,
    permitted_hosts: Sequence[str],
    quota: CrawlQuota,
    now: datetime | None = None,
) -> CrawlJob:
    """A crawl an account asks for: its roles must allow monitoring, and its quota must allow
    one more; then the job is queued as `create_job` queues it."""
    check_may_monitor(owner)
    _check_quota(session, owner, quota, now or utcnow())
    return create_job(
        session, owner, seeds, max_pages, allow_hosts, permitted_hosts=permitted_hosts
    )


def _allowed_host(host: str) -> str:
    try:
        return canonical_host(host)
    except InvalidUrlError as error:
        raise InvalidCrawl(
            N_("allowed host %(host)s is not a host: %(reason)s"),
            host=repr(host[:100]),
            reason=str(error),
        ) from None


def create_watch(
    session: Session, owner: User, seeds: Sequence[str], max_pages: int, interval_s: int
) -> CrawlWatch:
    """A watch-list entry, first due now."""
    check_may_monitor(owner)
    _check_max_pages(max_pages)
    if not MIN_WATCH_INTERVAL_S <= interval_s <= MAX_WATCH_INTERVAL_S:
        raise InvalidCrawl(
            N_("a watch re-crawls every %(least)s to %(most)s seconds"),
            least=MIN_WATCH_INTERVAL_S,
            most=MAX_WATCH_INTERVAL_S,
        )
    watch = CrawlWatch(
        owner_id=persisted_id(owner),
        seeds=check_seeds(seeds),
        max_pages=max_pages,
        interval_s=interval_s,
    )
    session.add(watch)
    session.flush()
    return watch


def queue_due_watches(session: Session, now: datetime | None = None) -> list[CrawlJob]:
    """A job for every watch that is due, each watch moved to its next run."""
    moment = now or utcnow()
    jobs = []
    for watch in repository.due_watches(session, moment):
        owner = session.get(User, watch.owner_id)
        job = create_job(session, owner, watch.seeds, watch.max_pages, watch_id=watch.id)
        watch.last_job_id = job.id
        watch.next_run_at = moment + timedelta(seconds=watch.interval_s)
        session.add(watch)
        jobs.append(job)
    session.flush()
    return jobs


def _domain_host(domain: str) -> str:
    """The canonical host (`canonical_host`) of a domain typed alone; else InvalidCrawl."""
    try:
        return canonical_host(domain, host_only=True)
    except InvalidUrlError as error:
        raise InvalidCrawl(
            N_("%(domain)s is not a domain name: %(reason)s"),
            domain=repr(domain[:100]),
            reason=str(error),
        ) from None


def add_licensed_domain(session: Session, owner: User, work_id: int, domain: str) -> LicensedDomain:
    """Allow copies of an owned work on `domain` and its subdomains (idempotent)."""
    work = get_owned_work(session, owner, work_id)
    host = _domain_host(domain)
    existing = repository.licensed_domain(session, work, host)
    if existing is not None:
        return existing
    entry = LicensedDomain(work_id=persisted_id(work), domain=host)
    session.add(entry)
    session.flush()
    return entry


def licensed_domains(session: Session, owner: User, work_id: int) -> Sequence[LicensedDomain]:
    """The allow-list of an owned work."""
    work = get_owned_work(session, owner, work_id)
    return repository.licensed_domains_of(session, work)


def remove_licensed_domain(session: Session, owner: User, work_id: int, domain: str) -> None:
    """Take a domain off an owned work's allow-list."""
    work = get_owned_work(session, owner, work_id)
    entry = repository.licensed_domain(session, work, _domain_host(domain))
    if entry is None:
        raise NotFound(
            N_("%(domain)s is not on the allow-list of work %(work)s"),
            domain=domain[:100],
            work=work_id,
        )
    session.delete(entry)
    session.flush()


class LicensedDomains:
    """`is_licensed` from the per-work allow-list, until licence grants answer it."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory

    def __call__(self, work_id: int, page_url: str) -> bool:
        """Whether the page's host is on the work's allow-list."""
        try:
            host = canonical_host(page_url)
        except InvalidUrlError:
            return False
        with self._session_factory() as session:
            domains = repository.licensed_domain_names(session, work_id)
        return any(host_within(host, domain) for domain in domains)


@dataclass(frozen=True)
class DomainAlerts:
    """The alerts whose copies live on one domain, for triage."""

    domain: str
    alerts: list[Alert]


def alerts_by_domain(
    session: Session, owner: User, status: AlertStatus | None = None
) -> list[DomainAlerts]:
    """The owner's alerts grouped by domain, the domain with most alerts first."""
    groups: dict[str, list[Alert]] = {}
    for alert in repository.owned_alerts(session, owner, status):
        groups.setdefault(alert.domain, []).append(alert)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [DomainAlerts(domain, alerts) for domain, alerts in ordered]


def change_status(session: Session, owner: User, alert_id: int, status: AlertStatus) -> Alert:
    """Move an owned alert along its life cycle; an impossible step is a Conflict."""
    alert = repository.owned_alert(session, owner, alert_id)
    if status not in ALLOWED_TRANSITIONS[alert.status]:
        raise Conflict(
            N_("alert %(alert)s cannot go from %(status)s to %(target)s"),
            alert=alert_id,
            status=AlertStatus(alert.status).in_words(),
            target=AlertStatus(status).in_words(),
        )
    alert.status = status
    alert.status_changed_at = utcnow()
    session.add(alert)
    session.flush()
    return alert


MAX_BULK_ALERTS: Final = 200


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk triage did: the alerts it moved, and each one it left with the reason."""

    changed: list[Alert]
    skipped: list[tuple[int, Message]]


def bulk_refusal(alert_id: int, alert: Alert | None, status: AlertStatus) -> Message | None:
    """Why a bulk step leaves this alert (None: not the owner's) as it is; None when it may
    take the step."""
    if alert is None:
        return Message(N_("alert %(alert)s not found"), {"alert": alert_id})
    if alert.status == status:
        return Message(
            N_("alert %(alert)s is already %(status)s"),
            {"alert": alert_id, "status": status.in_words()},
        )
    if status not in ALLOWED_TRANSITIONS[alert.status]:
        return Message(
            N_("alert %(alert)s cannot go from %(status)s to %(target)s"),
            {
                "alert": alert_id,
                "status": AlertStatus(alert.status).in_words(),
                "target": status.in_words(),
            },
        )
    return None


def bulk_refusals(
    session: Session, owner: User, alert_ids: Sequence[int], status: AlertStatus
) -> list[tuple[int, Message]]:
    """Why each of these alerts cannot take the bulk step now: what a bulk triage that left
    them said, for the page shown after it."""
    wanted = list(dict.fromkeys(alert_ids))[:MAX_BULK_ALERTS]
    found = {
        persisted_id(alert): alert
        for alert in repository.owned_alerts_by_id(session, owner, wanted)
    }
    refusals = (
        (alert_id, bulk_refusal(alert_id, found.get(alert_id), status)) for alert_id in wanted
    )
    return [(alert_id, refusal) for alert_id, refusal in refusals if refusal is not None]


def change_statuses(
    session: Session, owner: User, alert_ids: Sequence[int], status: AlertStatus
) -> BulkOutcome:
    """Move each chosen alert that may take this step; the others stay as they are, each named
    with why (already there, an impossible step, not found). Unknown and other owners' ids
    read alike, as not found."""
    wanted = list(dict.fromkeys(alert_ids))
    if not wanted:
        raise InvalidTriage(N_("choose at least one alert"))
    if len(wanted) > MAX_BULK_ALERTS:
        raise InvalidTriage(N_("choose at most %(count)s alerts at once"), count=MAX_BULK_ALERTS)
    found = {
        persisted_id(alert): alert
        for alert in repository.owned_alerts_by_id(session, owner, wanted)
    }
    changed: list[Alert] = []
    skipped: list[tuple[int, Message]] = []
    now = utcnow()
    for alert_id in wanted:
        alert = found.get(alert_id)
        refusal = bulk_refusal(alert_id, alert, status)
        if refusal is not None:
            skipped.append((alert_id, refusal))
        elif alert is not None:
            alert.status = status
            alert.status_changed_at = now
            session.add(alert)
            changed.append(alert)
    session.flush()
    return BulkOutcome(changed, skipped)


@dataclass(frozen=True)
class Recorded:
    """What recording a copy did: a new alert, or one more sighting of a known one."""

    alert: Alert
    new_alert: bool
    new_sighting: bool


def find_alert(session: Session, work_id: int, image_sha256: str, image_url: str) -> Alert | None:
    """The alert of this work for the same image bytes, or else for the same image URL."""
    return repository.alert_for_image(session, work_id, image_sha256, url_digest(image_url))


def url_digest(*urls: str) -> str:
    """SHA-256 of URLs joined by NUL, the indexable stand-in for long URLs."""
    return hashlib.sha256("\0".join(urls).encode("utf-8")).hexdigest()


def domain_of(url: str) -> str:
    """The canonical host of a URL; '' for an unparseable one."""
    try:
        return canonical_host(url)
    except InvalidUrlError:
        return ""


def record_copy(
    session: Session,
    *,
    signer: LogSigner,
    evidence_blobs: BlobStore,
    job_id: int,
    work_id: int,
    work_sha256: str,
    match: Match,
    page: FetchRecord,
    image: FetchRecord,
    page_url: str,
    image_url: str,
    original_rgb: RGBArray,
    copy_rgb: RGBArray,
    screenshot: Screenshot | None = None,
    on_new_alert: AlertHook | None = None,
) -> Recorded:
    """Add a sighting to the alert for this work and image, or raise the alert with its evidence.

    A new alert's evidence manifest digest is appended to the log and a head is signed in the
    caller's transaction; the bundle (with its certificate) goes to `evidence_blobs` first.
    With no `screenshot` (a crawl's case) the bundle has none and an `evidence` task, queued in
    the same transaction, takes it (`complete_evidence`): the task exists if the alert commits.
    """
    now = utcnow()
    image_sha256 = sha256_hex(image.content)
    alert = find_alert(session, work_id, image_sha256, image_url)
    new_alert = alert is None
    if alert is None:
        alert = Alert(
            work_id=work_id,
            image_sha256=image_sha256,
            image_url=image_url,
            image_url_sha256=url_digest(image_url),
            page_url=page_url,
            domain=domain_of(page_url),
            score=match.score,
            verified=match.verified,
            region=[list(point) for point in match.region] if match.region else None,
            evidence_sha256="0" * 64,
            manifest_sha256="0" * 64,
            log_index=-1,
            first_seen_at=now,
            last_seen_at=now,
            screenshot_status=_screenshot_status(screenshot),
            screenshot_reason=None if screenshot is None else _reason(screenshot),
        )
        session.add(alert)
        session.flush()
        if screenshot is None:
            queue_evidence(session, persisted_id(alert), job_id)
        _attach_evidence(
            session,
            alert,
            Capture(
                alert_id=persisted_id(alert),
                work_id=work_id,
                work_sha256=work_sha256,
                page=page,
                image=image,
                page_url=page_url,
                image_url=image_url,
                image_sha256=image_sha256,
                original_rgb=original_rgb,
                copy_rgb=copy_rgb,
                region=match.region,
                score=match.score,
                verified=match.verified,
                screenshot=screenshot or Screenshot(None, SCREENSHOT_QUEUED),
                captured_at=now,
            ),
            signer,
            evidence_blobs,
        )
    else:
        alert.last_seen_at = now
        session.add(alert)
    urls = url_digest(page_url, image_url)
    new_sighting = not repository.sighting_exists(session, alert, job_id, urls)
    if new_sighting:
        session.add(
            Sighting(
                alert_id=persisted_id(alert),
                job_id=job_id,
                page_url=page_url,
                image_url=image_url,
                urls_sha256=urls,
                seen_at=now,
            )
        )
    session.flush()
    if new_alert and on_new_alert is not None:
        on_new_alert(session, alert)
    return Recorded(alert, new_alert, new_sighting)


def _attach_evidence(
    session: Session,
    alert: Alert,
    capture: Capture,
    signer: LogSigner,
    evidence_blobs: BlobStore,
) -> None:
    _point_at(alert, log_evidence(AttestationLog(session, signer), capture), evidence_blobs)
    session.add(alert)


def _point_at(alert: Alert, logged: LoggedEvidence, evidence_blobs: BlobStore) -> None:
    """Store a logged bundle and make it the alert's evidence."""
    alert.evidence_sha256 = evidence_blobs.put(logged.bundle)
    alert.manifest_sha256 = logged.manifest_sha256
    alert.log_index = logged.log_index


def _screenshot_status(screenshot: Screenshot | None) -> ScreenshotStatus:
    if screenshot is None:
        return ScreenshotStatus.PENDING
    return ScreenshotStatus.NOT_TAKEN if screenshot.png is None else ScreenshotStatus.TAKEN


def _reason(screenshot: Screenshot) -> str | None:
    if screenshot.png is not None:
        return None
    return (screenshot.skipped_reason or "no reason was given")[:500]


def queue_evidence(session: Session, alert_id: int, job_id: int | None) -> None:
    """Take the alert's screenshot in an `evidence` task once the session's transaction commits.

    `job_id` names the crawl that raised the alert: the browser is held to its network rules.
    """
    enqueue(
        session,
        EVIDENCE_TASK,
        {"alert_id": alert_id, "job_id": job_id},
        f"{EVIDENCE_TASK}:{alert_id}",
    )


def pending_screenshot(session: Session, alert_id: int) -> Alert | None:
    """The alert if its screenshot is still to be taken; None when gone or already settled."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.screenshot_status != ScreenshotStatus.PENDING:
        return None
    return alert


def complete_evidence(
    session: Session,
    *,
    alert_id: int,
    screenshot: Screenshot,
    signer: LogSigner,
    evidence_blobs: BlobStore,
) -> Alert | None:
    """Settle a pending screenshot: log the complete bundle and point the alert at it, or keep
    the first bundle and record why no screenshot could be taken.

    An alert already settled (a task delivered twice) is left as it is and None returned. The
    first bundle's leaf stays on the log; the complete bundle names it under `completes`.
    """
    alert = pending_screenshot(session, alert_id)
    if alert is None:
        return None
    if screenshot.png is not None:
        try:
            first = evidence_blobs.get(alert.evidence_sha256)
            logged = complete_bundle(
                AttestationLog(session, signer), first, screenshot.png, utcnow()
            )
        except KeyError:
            screenshot = Screenshot(None, "the first evidence bundle is missing from storage")
        except IncompleteBundle as refusal:
            screenshot = Screenshot(None, str(refusal))
        else:
            _point_at(alert, logged, evidence_blobs)
    alert.screenshot_status = _screenshot_status(screenshot)
    alert.screenshot_reason = _reason(screenshot)
    session.add(alert)
    session.flush()
    return alert


NEW_ALERT_KIND: Final = "monitoring.alert"


def notify_rights_holder(session: Session, alert: Alert) -> None:
    """Tell the work's owner of a new alert (inbox, email, webhooks), in the alert's transaction."""
    work = session.get(Work, alert.work_id)
    owner = None if work is None else session.get(User, work.owner_id)
    if work is None or owner is None:
        return
    notify(
        session,
        owner,
        NEW_ALERT_KIND,
        N_("Possible copy of “%(title)s” on %(domain)s"),
        N_(
            "An image on %(page_url)s copies your work “%(title)s” (score %(score)s). Evidence "
            "was captured and logged at index %(log_index)s."
        ),
        {
            "alert_id": persisted_id(alert),
            "work_id": alert.work_id,
            "page_url": alert.page_url,
            "image_url": alert.image_url,
            "evidence_sha256": alert.evidence_sha256,
            "log_index": alert.log_index,
        },
        params={
            "title": work.title,
            "domain": alert.domain,
            "page_url": alert.page_url,
            "score": f"{alert.score:.2f}",
            "log_index": str(alert.log_index),
        },
    )


def side_by_side_of(bundle: bytes) -> bytes:
    """The side-by-side picture (PNG) inside an evidence bundle."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return archive.read(SIDE_BY_SIDE_NAME)


def evidence_bundle(session: Session, owner: User, alert_id: int, blobs: BlobStore) -> bytes:
    """The evidence zip of an owned alert."""
    alert = repository.owned_alert(session, owner, alert_id)
    try:
        return blobs.get(alert.evidence_sha256)
    except KeyError:
        raise NotFound(
            N_("the evidence of alert %(alert)s is missing from storage"), alert=alert_id
        ) from None
