"""Monitoring pages: set up watches and crawls and follow a crawl live; the alerts inbox (filters,
bulk triage, paging, small previews); one alert with its notices, triage and evidence."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.charts import score_bar_percent
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.i18n import gettext_for
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from frontend.services import Services
from registry.blobs import BlobStore
from registry.bounds import RecordId
from registry.enforcement.repository import case_id_of_alert
from registry.errors import Invalid, NotFound
from registry.messages import Message
from registry.models import User, Work, persisted_id
from registry.monitoring.jobs import queue_crawl
from registry.monitoring.models import Alert, AlertStatus, JobStatus
from registry.monitoring.repository import (
    AlertFilter,
    alert_domains,
    alerted_works,
    filtered_alerts,
    owned_alert,
    owned_alerts,
    owned_job,
    owned_jobs,
    owned_watches,
    sighting_counts,
    sightings_of,
)
from registry.monitoring.service import (
    ALLOWED_TRANSITIONS,
    CrawlQuota,
    bulk_refusals,
    change_status,
    change_statuses,
    create_watch,
    evidence_bundle,
    notices_allowed,
    request_crawl,
    side_by_side_of,
)
from registry.notifications.takedown import (
    RenderedNotice,
    TakedownFacts,
    chinese_platform_complaint,
    dmca_notice,
)
from registry.repository import get_owned_work
from registry.service import work_certificate_view
from registry.thumbnails import jpeg_preview
from similarity.images import ImageLimits

router = APIRouter(include_in_schema=False)

ALERTS_PER_PAGE: Final = 20
PREVIEW_SIDE: Final = 320
# The steps the inbox offers for many alerts at once; the rest need a look at one alert.
BULK_STATUSES: Final = (AlertStatus.CONFIRMED, AlertStatus.DISMISSED)
FILTER_FIELDS: Final = ("status", "site", "work", "verified", "since", "until")
# How often a watch may re-crawl, as the form offers it.
WATCH_INTERVALS: Final = (
    ("daily", 24 * 3600),
    ("weekly", 7 * 24 * 3600),
    ("monthly", 30 * 24 * 3600),
)
ACTIVE_JOB_STATUSES: Final = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


@dataclass(frozen=True, slots=True)
class AlertCard:
    """One alert as the alerts pages show it: the copy, the work it copies, the next steps."""

    alert: Alert
    work: Work
    sightings: int
    next_statuses: list[AlertStatus]


def _alert_card(session: Session, user: User, alert: Alert, sightings: int) -> AlertCard:
    return AlertCard(
        alert,
        get_owned_work(session, user, alert.work_id),
        sightings,
        sorted(ALLOWED_TRANSITIONS.get(alert.status, frozenset())),
    )


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """The inbox's filters as typed in its form (kept to refill it) and as the query runs them."""

    typed: dict[str, str]
    wanted: AlertFilter
    page: int

    def encoded(self, page: int | None = None) -> str:
        """The filters in use and the page, as a query string."""
        params: dict[str, str | int] = {name: value for name, value in self.typed.items() if value}
        chosen = self.page if page is None else page
        if chosen > 1:
            params["page"] = chosen
        return urlencode(params)

    def link(self, page: int) -> str:
        """The inbox address of another page with the same filters."""
        return "/alerts?" + self.encoded(page)


def _day(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise Invalid(f"{field} must be a date like 2026-01-31, not {text[:40]!r}") from None


def inbox_query(typed: dict[str, str], page: int) -> InboxQuery:
    """The filters as typed, checked: each bad value is a 422 that names it."""
    status = typed.get("status", "")
    if status and status not in {member.value for member in AlertStatus}:
        raise Invalid(f"status must be one of {', '.join(m.value for m in AlertStatus)}")
    work = typed.get("work", "")
    if work and not (work.isdigit() and 0 < int(work) < 2**31):
        raise Invalid(f"work must be a work number, not {work[:40]!r}")
    verified = typed.get("verified", "")
    if verified not in ("", "yes", "no"):
        raise Invalid("verified must be yes or no")
    until = _day(typed.get("until", ""), "until")
    wanted = AlertFilter(
        status=AlertStatus(status) if status else None,
        domain=typed.get("site") or None,
        work_id=int(work) if work else None,
        verified=None if not verified else verified == "yes",
        seen_since=_day(typed.get("since", ""), "since"),
        seen_before=None if until is None else until + timedelta(days=1),
    )
    return InboxQuery(typed, wanted, page)


Filter = Annotated[str, Query(max_length=253)]


@router.get("/alerts", response_class=HTMLResponse, response_model=None)
def alerts_page(
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    status: Filter = "",
    site: Filter = "",
    work: Filter = "",
    verified: Filter = "",
    since: Filter = "",
    until: Filter = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The signed-in owner's alerts, newest sighting first, narrowed by the filters, a page at
    a time; each card can be chosen for a bulk step."""
    if user is None:
        return to_sign_in(request)
    typed = {"status": status, "site": site, "work": work, "verified": verified}
    typed |= {"since": since, "until": until}
    query = inbox_query(typed, page)
    alerts, total = filtered_alerts(
        session,
        user,
        query.wanted,
        limit=ALERTS_PER_PAGE,
        offset=(page - 1) * ALERTS_PER_PAGE,
    )
    counts = sighting_counts(session, [persisted_id(alert) for alert in alerts])
    cards = [
        _alert_card(session, user, alert, counts.get(persisted_id(alert), 0)) for alert in alerts
    ]
    pages = max(1, -(-total // ALERTS_PER_PAGE))
    return render(
        request,
        "alerts.html",
        user,
        cards=cards,
        total=total,
        query=query,
        pages=pages,
        per_page=ALERTS_PER_PAGE,
        filtering=any(typed.values()),
        domains=alert_domains(session, user),
        works=alerted_works(session, user),
        statuses=list(AlertStatus),
        bulk_statuses=BULK_STATUSES,
        enforceable=_enforceable_by_site(session, user),
        bulk=_bulk_outcome(request, session, user),
        score_bar=score_bar_percent,
    )


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What the last bulk step did, as the inbox reports it after the redirect."""

    status: AlertStatus
    changed: int
    skipped: int
    left: list[tuple[int, Message]]


def _bulk_outcome(request: Request, session: Session, user: User) -> BulkReport | None:
    """The report of the last bulk step; why each alert it left stayed is asked again, since
    the address carries only their numbers."""
    params = request.query_params
    status, changed, skipped = params.get("bulk"), params.get("changed"), params.get("skipped")
    if status not in {s.value for s in BULK_STATUSES} or not changed or not skipped:
        return None
    if not (changed.isdigit() and skipped.isdigit()):
        return None
    left_ids = [int(part) for part in params.get("left", "").split(",") if _is_record_id(part)]
    left = bulk_refusals(session, user, left_ids, AlertStatus(status))
    return BulkReport(AlertStatus(status), int(changed), int(skipped), left)


def _is_record_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 2**31


def _enforceable_by_site(session: Session, user: User) -> list[tuple[str, list[int]]]:
    """Per site, the confirmed alerts no case enforces yet: one case on the site takes them all."""
    sites: dict[str, list[int]] = {}
    for alert in owned_alerts(session, user, AlertStatus.CONFIRMED):
        if case_id_of_alert(session, persisted_id(alert)) is None:
            sites.setdefault(alert.domain, []).append(persisted_id(alert))
    return sorted(sites.items())


@router.post("/alerts/bulk", response_model=None)
def bulk_triage(
    user: OptionalUser,
    session: SessionDep,
    status: Annotated[Literal["confirmed", "dismissed"], Form()],
    alert_id: Annotated[list[RecordId], Form(max_length=200)],
    filters: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Confirm or dismiss every chosen alert that may take the step, then show the same page of
    the inbox with how many moved and how many could not."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    outcome = change_statuses(session, user, alert_id, AlertStatus(status))
    kept = [(name, value) for name, value in parse_qsl(filters) if name in {*FILTER_FIELDS, "page"}]
    report = [
        ("bulk", status),
        ("changed", str(len(outcome.changed))),
        ("skipped", str(len(outcome.skipped))),
    ]
    if outcome.skipped:
        report.append(("left", ",".join(str(alert_id) for alert_id, _reason in outcome.skipped)))
    return RedirectResponse("/alerts?" + urlencode(kept + report), status_code=303)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, response_model=None)
def alert_page(
    alert_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """One alert: the side-by-side picture, every sighting and draft takedown notices."""
    if user is None:
        return to_sign_in(request)
    alert = owned_alert(session, user, alert_id)
    sightings = sightings_of(session, alert)
    card = _alert_card(session, user, alert, len(sightings))
    notices = (
        _takedown_notices(request, session, services, user, card)
        if notices_allowed(card.alert)
        else []
    )
    return render(
        request,
        "alert.html",
        user,
        card=card,
        sightings=sightings,
        score_bar=score_bar_percent,
        notices=notices,
        notices_allowed=notices_allowed(card.alert),
        case_id=case_id_of_alert(session, alert_id),
    )


def _takedown_notices(
    request: Request, session: Session, services: Services, user: User, card: AlertCard
) -> list[tuple[str, RenderedNotice]]:
    _ = gettext_for(request)
    view = work_certificate_view(session, services.signer, card.work, services.settings.base_url)
    facts = TakedownFacts(
        rights_holder_name=user.display_name,
        rights_holder_email=user.email,
        work_title=card.work.title,
        work_id=view.work_id,
        certificate_log_index=view.log_index,
        certificate_root_hash=view.root_hash,
        certificate_key_id=view.key_id,
        evidence_sha256=card.alert.evidence_sha256,
        evidence_log_index=card.alert.log_index,
        infringing_page_url=card.alert.page_url,
        infringing_image_url=card.alert.image_url,
        first_seen_at=card.alert.first_seen_at,
    )
    return [
        (_("United States, DMCA"), dmca_notice(facts)),
        (_("China, platform complaint"), chinese_platform_complaint(facts)),
    ]


@router.post("/alerts/{alert_id}/status", response_model=None)
def alert_status_form(
    alert_id: RecordId,
    user: OptionalUser,
    session: SessionDep,
    status: Annotated[AlertStatus, Form()],
    back_to: Annotated[Literal["list", "alert"], Form()] = "list",
) -> Response:
    """Triage from a page: move the alert on, then show where the form was."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    change_status(session, user, alert_id, status)
    target = f"/alerts/{alert_id}" if back_to == "alert" else f"/alerts#alert-{alert_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/alerts/{alert_id}/side-by-side.png")
def alert_side_by_side(
    alert_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """The original beside the copy, as captured in the alert's evidence bundle."""
    if user is None:
        raise NotFound(f"alert {alert_id} not found")
    picture = side_by_side_of(evidence_bundle(session, user, alert_id, services.evidence_blobs))
    return Response(
        picture, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


class _Previews:
    """The latest previews by evidence digest; evidence is content-addressed, so a preview
    cached by its digest never goes stale, whichever store it came from."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._previews: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, blobs: BlobStore, limits: ImageLimits, evidence_sha256: str) -> bytes:
        with self._lock:
            if evidence_sha256 in self._previews:
                self._previews.move_to_end(evidence_sha256)
                return self._previews[evidence_sha256]
        preview = jpeg_preview(side_by_side_of(blobs.get(evidence_sha256)), limits, PREVIEW_SIDE)
        with self._lock:
            self._previews[evidence_sha256] = preview
            while len(self._previews) > self._kept:
                self._previews.popitem(last=False)
        return preview


_previews = _Previews(kept=512)


@router.get("/alerts/{alert_id}/preview.jpg")
def alert_preview(
    alert_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """The side-by-side picture shrunk for the inbox's cards; a browser holding it gets a 304."""
    if user is None:
        raise NotFound(f"alert {alert_id} not found")
    alert = owned_alert(session, user, alert_id)
    etag = f'"{alert.evidence_sha256[:32]}-{PREVIEW_SIDE}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    try:
        data = _previews.get(services.evidence_blobs, services.limits, alert.evidence_sha256)
    except KeyError:
        raise NotFound(f"the evidence of alert {alert_id} is missing from storage") from None
    return Response(data, media_type="image/jpeg", headers=headers)


# Monitoring set-up: watches, one-off crawls and a crawl's live progress.


def seeds_from_text(text: str) -> list[str]:
    """One site or address per line (or separated by spaces or commas); a bare domain is its
    home page over HTTPS."""
    seeds = []
    for item in text.replace(",", " ").split():
        seeds.append(item if "://" in item else f"https://{item.strip('/')}/")
    return seeds


def opened_hosts_of(seeds: list[str], opened: list[str]) -> list[str]:
    """The seeds' hosts that the operator opened to crawls (COPYMARK_CRAWL_ALLOW_HOSTS)."""
    hosts = {urlsplit(seed).hostname for seed in seeds}
    return [host for host in opened if host in hosts]


@router.get("/monitoring", response_class=HTMLResponse, response_model=None)
def monitoring_page(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """The owner's watches and crawls, and the forms that start them."""
    if user is None:
        return to_sign_in(request)
    return _monitoring(request, user, session, services)


def _monitoring(request: Request, user: User, session: Session, services: Services) -> HTMLResponse:
    return render(
        request,
        "monitoring.html",
        user,
        watches=owned_watches(session, user),
        jobs=owned_jobs(session, user, limit=20),
        intervals=WATCH_INTERVALS,
        interval_names={seconds: name for name, seconds in WATCH_INTERVALS},
        active=ACTIVE_JOB_STATUSES,
        run_watches=services.settings.run_watches,
    )


@router.post("/monitoring/watches", response_model=None)
def add_watch_form(
    user: OptionalUser,
    session: SessionDep,
    seeds: Annotated[str, Form(max_length=20_000)],
    max_pages: Annotated[int, Form(ge=1, le=100_000)] = 100,
    interval_s: Annotated[int, Form(ge=1)] = 7 * 24 * 3600,
) -> Response:
    """Watch the sites: the first run is due now, then every interval."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    watch = create_watch(session, user, seeds_from_text(seeds), max_pages, interval_s)
    return RedirectResponse(f"/monitoring#watch-{persisted_id(watch)}", status_code=303)


@router.post("/monitoring/crawls", response_model=None)
def start_crawl_form(
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    seeds: Annotated[str, Form(max_length=20_000)],
    max_pages: Annotated[int, Form(ge=1, le=100_000)] = 100,
) -> Response:
    """Crawl the sites once now, then follow its progress."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    settings = services.settings
    wanted = seeds_from_text(seeds)
    job = request_crawl(
        session,
        user,
        wanted,
        max_pages,
        opened_hosts_of(wanted, settings.crawl_allow_hosts),
        permitted_hosts=settings.crawl_allow_hosts,
        quota=CrawlQuota(per_day=settings.crawls_per_day, at_once=settings.crawls_at_once),
    )
    queue_crawl(session, persisted_id(job))
    return RedirectResponse(f"/monitoring/crawls/{persisted_id(job)}", status_code=303)


@router.get("/monitoring/crawls/{job_id}", response_class=HTMLResponse, response_model=None)
def crawl_page(
    job_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """One crawl's counters, kept current by the page's script while it runs."""
    if user is None:
        return to_sign_in(request)
    job = owned_job(session, user, job_id)
    return render(request, "crawl.html", user, job=job, running=job.status in ACTIVE_JOB_STATUSES)
