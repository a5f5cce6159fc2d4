"""Registry queries; owner scoping of works happens here and in service.get_owned_work only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.models import PriorArtConflict, User, Visibility, Work, WorkStatus


def list_owned_works(session: Session, owner: User, limit: int = 500) -> Sequence[Work]:
    return session.exec(
        select(Work).where(Work.owner_id == owner.id).order_by(col(Work.id).desc()).limit(limit)
    ).all()


def list_public_works(session: Session, limit: int = 100) -> Sequence[Work]:
    return session.exec(
        select(Work)
        .where(Work.visibility == Visibility.PUBLIC, Work.status != WorkStatus.WITHDRAWN)
        .order_by(col(Work.id).desc())
        .limit(limit)
    ).all()


def visible_work(session: Session, work_id: int, viewer: User | None) -> Work:
    """A public work, or any work of the viewer's own; anything else answers NotFound."""
    work = session.get(Work, work_id)
    if work is None or not (
        work.visibility == Visibility.PUBLIC or (viewer is not None and work.owner_id == viewer.id)
    ):
        raise NotFound(f"work {work_id} not found")
    return work


def prior_art_conflicts(session: Session, work: Work) -> Sequence[PriorArtConflict]:
    """Earlier registrations by other owners that this work resembles, for review."""
    return session.exec(select(PriorArtConflict).where(PriorArtConflict.work_id == work.id)).all()
