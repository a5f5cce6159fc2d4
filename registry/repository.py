"""Registry queries on works; which works a user may see or act on is decided here only.

The rule, written once in `work_scope`: a public work that is not withdrawn is visible to
everyone; an owner sees and acts on every work of their own, private and withdrawn included.
The gallery, the work pages and API, search results, and licensing's offers all ask it. A work
a user may not see answers NotFound, exactly as an unknown one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.models import PriorArtConflict, User, Visibility, Work, WorkStatus, persisted_id


class Access(StrEnum):
    """What a user wants to do with a work."""

    SEE = "see"  # view it, its certificate and thumbnail, find it in search, license it
    OWN = "own"  # act as its owner: edit, withdraw, contract, monitor


def work_scope(user: User | None, access: Access = Access.SEE) -> ColumnElement[bool]:
    """The works `user` (None: anyone) may see or own, as a WHERE clause on Work."""
    owned = false() if user is None else col(Work.owner_id) == persisted_id(user)
    if access is Access.OWN:
        return owned
    listed = and_(
        col(Work.visibility) == Visibility.PUBLIC, col(Work.status) != WorkStatus.WITHDRAWN
    )
    return or_(listed, owned)


def _scoped_work(session: Session, work_id: int, user: User | None, access: Access) -> Work:
    work = session.exec(select(Work).where(Work.id == work_id, work_scope(user, access))).first()
    if work is None:
        raise NotFound(f"work {work_id} not found")
    return work


def get_owned_work(session: Session, owner: User, work_id: int) -> Work:
    """The work if owner owns it; any other work id answers NotFound, as an unknown one would."""
    return _scoped_work(session, work_id, owner, Access.OWN)


def visible_work(session: Session, work_id: int, viewer: User | None) -> Work:
    """A work the viewer may see (`work_scope`); anything else answers NotFound."""
    return _scoped_work(session, work_id, viewer, Access.SEE)


def visible_work_ids(session: Session, work_ids: Iterable[int], viewer: User | None) -> set[int]:
    """Those of `work_ids` the viewer may see."""
    ids = set(work_ids)
    if not ids:
        return set()
    found = session.exec(select(Work.id).where(col(Work.id).in_(ids), work_scope(viewer)))
    return {work_id for work_id in found if work_id is not None}


def list_owned_works(session: Session, owner: User, limit: int = 500) -> Sequence[Work]:
    return session.exec(
        select(Work).where(work_scope(owner, Access.OWN)).order_by(col(Work.id).desc()).limit(limit)
    ).all()


def list_public_works(session: Session, limit: int = 100) -> Sequence[Work]:
    """The gallery: the works anyone may see, newest first."""
    return session.exec(
        select(Work).where(work_scope(None)).order_by(col(Work.id).desc()).limit(limit)
    ).all()


def prior_art_conflicts(session: Session, work: Work) -> Sequence[PriorArtConflict]:
    """Earlier registrations by other owners that this work resembles, for review."""
    return session.exec(select(PriorArtConflict).where(PriorArtConflict.work_id == work.id)).all()
