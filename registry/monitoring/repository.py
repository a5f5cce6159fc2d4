"""Monitoring queries; an alert, job or watch is scoped to its owner here and nowhere else.

An alert belongs to the owner of its work. Every lookup by id goes through an `owned_*`
function, which answers NotFound for another owner's row exactly as for a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.models import User, Work
from registry.monitoring.models import Alert, AlertStatus, CrawlJob, CrawlWatch, Sighting


def owned_alert(session: Session, owner: User, alert_id: int) -> Alert:
    """The alert if `owner` owns its work."""
    alert = session.exec(
        select(Alert)
        .join(Work, col(Work.id) == col(Alert.work_id))
        .where(Alert.id == alert_id, Work.owner_id == owner.id)
    ).first()
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
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
        raise NotFound(f"crawl {job_id} not found")
    return job


def owned_jobs(session: Session, owner: User, limit: int = 100) -> Sequence[CrawlJob]:
    """The owner's crawl jobs, newest first."""
    return session.exec(
        select(CrawlJob)
        .where(CrawlJob.owner_id == owner.id)
        .order_by(col(CrawlJob.id).desc())
        .limit(limit)
    ).all()


def owned_watches(session: Session, owner: User) -> Sequence[CrawlWatch]:
    """The owner's watches, oldest first."""
    return session.exec(
        select(CrawlWatch).where(CrawlWatch.owner_id == owner.id).order_by(col(CrawlWatch.id))
    ).all()
