"""Monitoring endpoints: crawl jobs, watches, licensed domains, alerts and their evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from frontend.deps import CurrentUser, ServicesDep, SessionDep
from registry.bounds import RecordId
from registry.models import persisted_id
from registry.monitoring.jobs import queue_crawl
from registry.monitoring.models import Alert, AlertStatus, CrawlJob
from registry.monitoring.repository import (
    owned_alert,
    owned_job,
    owned_jobs,
    owned_watches,
    sightings_of,
)
from registry.monitoring.schemas import (
    AlertDetail,
    AlertPublic,
    AlertStatusChange,
    CrawlPublic,
    CrawlRequest,
    DomainGroup,
    LicensedDomainPublic,
    LicensedDomainRequest,
    SightingPublic,
    WatchPublic,
    WatchRequest,
)
from registry.monitoring.service import (
    CrawlQuota,
    add_licensed_domain,
    alerts_by_domain,
    change_status,
    create_watch,
    evidence_bundle,
    licensed_domains,
    remove_licensed_domain,
    request_crawl,
)

router = APIRouter(tags=["monitoring"])


def crawl_public(job: CrawlJob) -> CrawlPublic:
    return CrawlPublic.model_validate(job, from_attributes=True)


def alert_public(alert: Alert) -> AlertPublic:
    return AlertPublic.model_validate(alert, from_attributes=True)


@router.post("/crawls", status_code=202)
def start_crawl(
    request: CrawlRequest,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> CrawlPublic:
    """Queue a crawl of the seeds; it matches the pages' images against the caller's works."""
    settings = services.settings
    job = request_crawl(
        session,
        user,
        request.seeds,
        request.max_pages,
        request.allow_hosts,
        permitted_hosts=settings.crawl_allow_hosts,
        quota=CrawlQuota(per_day=settings.crawls_per_day, at_once=settings.crawls_at_once),
    )
    # A `crawl` task runs the job once this request's transaction commits, never before.
    queue_crawl(session, persisted_id(job))
    return crawl_public(job)


@router.get("/crawls")
def list_crawls(user: CurrentUser, session: SessionDep) -> list[CrawlPublic]:
    return [crawl_public(job) for job in owned_jobs(session, user)]


@router.get("/crawls/{job_id}")
def read_crawl(job_id: RecordId, user: CurrentUser, session: SessionDep) -> CrawlPublic:
    """A crawl's progress: status, pages fetched, images checked, alerts raised."""
    return crawl_public(owned_job(session, user, job_id))


@router.post("/watches", status_code=201)
def add_watch(request: WatchRequest, user: CurrentUser, session: SessionDep) -> WatchPublic:
    """Watch seed URLs: they are crawled again every `interval_s` seconds."""
    watch = create_watch(session, user, request.seeds, request.max_pages, request.interval_s)
    return WatchPublic.model_validate(watch, from_attributes=True)


@router.get("/watches")
def list_watches(user: CurrentUser, session: SessionDep) -> list[WatchPublic]:
    return [
        WatchPublic.model_validate(watch, from_attributes=True)
        for watch in owned_watches(session, user)
    ]


@router.post("/works/{work_id}/licensed-domains", status_code=201)
def add_domain(
    work_id: RecordId, request: LicensedDomainRequest, user: CurrentUser, session: SessionDep
) -> LicensedDomainPublic:
    """Copies of the work on this domain (and its subdomains) are licensed: no alerts."""
    entry = add_licensed_domain(session, user, work_id, request.domain)
    return LicensedDomainPublic.model_validate(entry, from_attributes=True)


@router.get("/works/{work_id}/licensed-domains")
def list_domains(
    work_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[LicensedDomainPublic]:
    return [
        LicensedDomainPublic.model_validate(entry, from_attributes=True)
        for entry in licensed_domains(session, user, work_id)
    ]


@router.delete("/works/{work_id}/licensed-domains/{domain}", status_code=204)
def remove_domain(
    work_id: RecordId, domain: str, user: CurrentUser, session: SessionDep
) -> Response:
    remove_licensed_domain(session, user, work_id, domain)
    return Response(status_code=204)


@router.get("/alerts")
def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[AlertStatus | None, Query()] = None,
) -> list[DomainGroup]:
    """The caller's alerts grouped by the domain of the page, largest group first."""
    return [
        DomainGroup(domain=group.domain, alerts=[alert_public(a) for a in group.alerts])
        for group in alerts_by_domain(session, user, status)
    ]


@router.get("/alerts/{alert_id}")
def read_alert(alert_id: RecordId, user: CurrentUser, session: SessionDep) -> AlertDetail:
    """An alert with every sighting of its image."""
    alert = owned_alert(session, user, alert_id)
    sightings = [
        SightingPublic.model_validate(sighting, from_attributes=True)
        for sighting in sightings_of(session, alert)
    ]
    return AlertDetail(**alert_public(alert).model_dump(), sightings=sightings)


@router.patch("/alerts/{alert_id}")
def update_alert(
    alert_id: RecordId, request: AlertStatusChange, user: CurrentUser, session: SessionDep
) -> AlertPublic:
    """Triage: confirm, dismiss, mark licensed, record a takedown sent, resolve or reopen."""
    return alert_public(change_status(session, user, alert_id, request.status))


@router.get(
    "/alerts/{alert_id}/evidence.zip",
    response_class=Response,
    responses={
        200: {
            "description": "The evidence bundle (zip archive)",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def download_evidence(
    alert_id: RecordId, user: CurrentUser, session: SessionDep, services: ServicesDep
) -> Response:
    """The evidence bundle; `copymark verify BUNDLE.zip` checks it offline with the log's key."""
    bundle = evidence_bundle(session, user, alert_id, services.evidence_blobs)
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{alert_id}.zip"'},
    )
