"""Monitoring queries; an alert, job or watch is scoped to its owner here and nowhere else.

An alert belongs to the owner of its work. Every lookup by id goes through an `owned_*`
function, which answers NotFound for another owner's row exactly as for a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, or_, select

from registry.errors import NotFound
from registry.messages import N_
from registry.models import User, Work, WorkStatus
from registry.monitoring.models import (
    Alert,
    AlertStatus,
    CrawlJob,
    CrawlWatch,
    JobStatus,
    LicensedDomain,
    Sighting,
)


def owned_alert(session: Session, owner: User, alert_id: int) -> Alert:
    """The alert if `owner` owns its work."""
    alert = session.exec(
        select(Alert)
        .join(Work, col(Work.id) == col(Alert.work_id))
        .where(Alert.id == alert_id, Work.owner_id == owner.id)
    ).first()
    if alert is None:
        raise NotFound(N_("alert %(alert)s not found"), alert=alert_id)
    return alert


def owned_alerts(
    session: Session, owner: User, status: AlertStatus | None = None, limit: int = 1000
) -> Sequence[Alert]:
    """The owner's alerts, most recently seen first."""
    query = (
        select(Alert)
        .join(Work, col(Work.id) == col(Alert.work_id))
        .where(Work.owner_id == owner.id)
    )
    if status is not None:
        query = query.where(Alert.status == status)
    return session.exec(query.order_by(col(Alert.last_seen_at).desc()).limit(limit)).all()


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What the alerts inbox narrows to; a field left None narrows nothing."""

    status: AlertStatus | None = None
    domain: str | None = None
    work_id: int | None = None
    verified: bool | None = None
    seen_since: datetime | None = None
    seen_before: datetime | None = None


def filtered_alerts(
    session: Session, owner: User, wanted: AlertFilter, *, limit: int, offset: int
) -> tuple[Sequence[Alert], int]:
    """One page of the owner's alerts that pass the filter, most recently seen first, and how
    many pass it in all."""
    conditions: list[ColumnElement[bool] | bool] = [Work.owner_id == owner.id]
    if wanted.status is not None:
        conditions.append(Alert.status == wanted.status)
    if wanted.domain is not None:
        conditions.append(Alert.domain == wanted.domain)
    if wanted.work_id is not None:
        conditions.append(Alert.work_id == wanted.work_id)
    if wanted.verified is not None:
        conditions.append(Alert.verified == wanted.verified)
    if wanted.seen_since is not None:
        conditions.append(col(Alert.last_seen_at) >= wanted.seen_since)
    if wanted.seen_before is not None:
        conditions.append(col(Alert.last_seen_at) < wanted.seen_before)
    joined = select(Alert).join(Work, col(Work.id) == col(Alert.work_id)).where(*conditions)
    total = session.exec(
        select(func.count())
        .select_from(Alert)
        .join(Work, col(Work.id) == col(Alert.work_id))
        .where(*conditions)
    ).one()
    page = session.exec(
        joined.order_by(col(Alert.last_seen_at).desc(), col(Alert.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return page, total


def alert_domains(session: Session, owner: User) -> Sequence[str]:
    """Every domain the owner's alerts were raised on, alphabetically."""
    return session.exec(
        select(Alert.domain)
        .join(Work, col(Work.id) == col(Alert.work_id))
        .where(Work.owner_id == owner.id)
        .distinct()
        .order_by(col(Alert.domain))
    ).all()


def alerted_works(session: Session, owner: User) -> Sequence[Work]:
    """The owner's works that have at least one alert, by id."""
    return session.exec(
        select(Work)
        .where(Work.owner_id == owner.id, col(Work.id).in_(select(Alert.work_id).distinct()))
        .order_by(col(Work.id))
    ).all()


def owned_alerts_by_id(session: Session, owner: User, alert_ids: Sequence[int]) -> list[Alert]:
    """Those of these alerts the owner owns, by id; another owner's ids are left out silently."""
    if not alert_ids:
        return []
    return list(
        session.exec(
            select(Alert)
            .join(Work, col(Work.id) == col(Alert.work_id))
            .where(Work.owner_id == owner.id, col(Alert.id).in_(alert_ids))
            .order_by(col(Alert.id))
        ).all()
    )


def sighting_counts(session: Session, alert_ids: Sequence[int]) -> dict[int, int]:
    """How many sightings each of these alerts has (alerts with none are absent)."""
    if not alert_ids:
        return {}
    rows = session.exec(
        select(Sighting.alert_id, func.count())
        .where(col(Sighting.alert_id).in_(alert_ids))
        .group_by(col(Sighting.alert_id))
    ).all()
    return dict(rows)


def sightings_of(session: Session, alert: Alert, limit: int = 1000) -> Sequence[Sighting]:
    """Where and when an alert's image was seen, oldest first."""
    return session.exec(
        select(Sighting)
        .where(Sighting.alert_id == alert.id)
        .order_by(col(Sighting.id))
        .limit(limit)
    ).all()


def owned_job(session: Session, owner: User, job_id: int) -> CrawlJob:
    """The crawl job if `owner` started it."""
    job = session.get(CrawlJob, job_id)
    if job is None or job.owner_id != owner.id:
        raise NotFound(N_("crawl %(crawl)s not found"), crawl=job_id)
    return job


def owned_jobs(session: Session, owner: User, limit: int = 100) -> Sequence[CrawlJob]:
    """The owner's crawl jobs, newest first."""
    return session.exec(
        select(CrawlJob)
        .where(CrawlJob.owner_id == owner.id)
        .order_by(col(CrawlJob.id).desc())
        .limit(limit)
    ).all()


def active_crawl_count(session: Session, owner: User) -> int:
    """How many of the owner's crawls are queued or running."""
    return session.exec(
        select(func.count())
        .select_from(CrawlJob)
        .where(
            CrawlJob.owner_id == owner.id,
            col(CrawlJob.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]),
        )
    ).one()


def crawl_start_times(session: Session, owner: User, since: datetime) -> Sequence[datetime]:
    """When the owner's crawls created after `since` were created, oldest first."""
    return session.exec(
        select(CrawlJob.created_at)
        .where(CrawlJob.owner_id == owner.id, CrawlJob.created_at > since)
        .order_by(col(CrawlJob.created_at))
    ).all()


def owned_watches(session: Session, owner: User) -> Sequence[CrawlWatch]:
    """The owner's watches, oldest first."""
    return session.exec(
        select(CrawlWatch).where(CrawlWatch.owner_id == owner.id).order_by(col(CrawlWatch.id))
    ).all()


def due_watches(session: Session, now: datetime) -> Sequence[CrawlWatch]:
    """Every watch whose next run is due at `now`, whoever owns it (the scheduler's view)."""
    return session.exec(select(CrawlWatch).where(CrawlWatch.next_run_at <= now)).all()


def licensed_domain(session: Session, work: Work, domain: str) -> LicensedDomain | None:
    """The allow-list entry of `domain` for a work the caller already scoped to its owner."""
    return session.exec(
        select(LicensedDomain).where(
            LicensedDomain.work_id == work.id, LicensedDomain.domain == domain
        )
    ).first()


def licensed_domains_of(session: Session, work: Work) -> Sequence[LicensedDomain]:
    """The allow-list of a work the caller already scoped to its owner, by domain."""
    return session.exec(
        select(LicensedDomain)
        .where(LicensedDomain.work_id == work.id)
        .order_by(col(LicensedDomain.domain))
    ).all()


def licensed_domain_names(session: Session, work_id: int) -> Sequence[str]:
    """The domains a work is licensed on, for the crawler's licence check (no owner involved)."""
    return session.exec(
        select(LicensedDomain.domain).where(LicensedDomain.work_id == work_id)
    ).all()


def alert_for_image(
    session: Session, work_id: int, image_sha256: str, image_url_sha256: str
) -> Alert | None:
    """The work's alert for the same image bytes, or else for the same image URL digest."""
    same_image = or_(Alert.image_sha256 == image_sha256, Alert.image_url_sha256 == image_url_sha256)
    return session.exec(
        select(Alert)
        .where(Alert.work_id == work_id, same_image)
        .order_by(col(Alert.image_sha256) != image_sha256)
    ).first()


def sighting_exists(session: Session, alert: Alert, job_id: int, urls_sha256: str) -> bool:
    """Whether this job already saw the alert's image on this page."""
    seen = session.exec(
        select(Sighting.id).where(
            Sighting.alert_id == alert.id,
            Sighting.job_id == job_id,
            Sighting.urls_sha256 == urls_sha256,
        )
    ).first()
    return seen is not None


def indexed_works(session: Session, work_ids: Sequence[int], owner_id: int | None) -> list[Work]:
    """Of these works, those still registered (and the owner's, when one is given)."""
    if not work_ids:
        return []
    query = select(Work).where(col(Work.id).in_(work_ids), Work.status != WorkStatus.WITHDRAWN)
    if owner_id is not None:
        query = query.where(Work.owner_id == owner_id)
    return list(session.exec(query).all())
