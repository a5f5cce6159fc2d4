"""Registry queries on works; which works a user may see or act on is decided here only.

The rule, written once in `work_scope`: a public work that is not withdrawn is visible to
everyone; an owner sees and acts on every work of their own, private and withdrawn included.
The gallery, the work pages and API, search results, and licensing's offers all ask it. A work
a user may not see answers NotFound, exactly as an unknown one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    table,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.errors import NotFound
from registry.log.models import LogSubmission
from registry.messages import N_
from registry.models import (
    PriorArtConflict,
    User,
    Visibility,
    Work,
    WorkStatus,
    WorkTag,
    persisted_id,
)

_WORKS: Table = Work.__table__  # type: ignore[attr-defined]
_SUBMISSIONS: Table = LogSubmission.__table__  # type: ignore[attr-defined]

# FTS5's trigram tokenizer indexes every run of three characters; a shorter phrase matches nothing.
_TRIGRAM = 3


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
        raise NotFound(N_("work %(work)s not found"), work=work_id)
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


class TextMatch(StrEnum):
    """How a text search reads the works' text indexes (`ids_containing`)."""

    TRIGRAMS = "trigrams"
    LIKE = "like"


def text_match(session: Session, text: str) -> tuple[TextMatch, str]:
    """How `ids_containing` finds `text` on this session's database, and the value to bind.

    Indexed on both engines (migration 0021). On SQLite the FTS5 trigram table answers a phrase
    of three or more characters, quoted so that no character of it is FTS syntax; shorter text
    cannot use a trigram index and is matched by LIKE over the works. On PostgreSQL `ILIKE` reads
    the pg_trgm GIN indexes.
    """
    if session.get_bind().dialect.name == "sqlite" and len(text) >= _TRIGRAM:
        return TextMatch.TRIGRAMS, '"' + text.replace('"', '""') + '"'
    return TextMatch.LIKE, "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace(
        "_", "\\_"
    ) + "%"


def ids_containing(match: TextMatch, value: ColumnElement[str]) -> Select[Any]:
    """The ids of works whose title or description holds a literal substring, ignoring case:
    `value` is (a parameter bound to) what `text_match` gave with `match`."""
    if match is TextMatch.TRIGRAMS:
        return (
            sa_select(literal_column("rowid"))
            .select_from(table("works_fts"))
            .where(literal_column("works_fts").op("MATCH")(value))
        )
    return sa_select(col(Work.id)).where(
        or_(
            col(Work.title).ilike(value, escape="\\"),
            col(Work.description).ilike(value, escape="\\"),
        )
    )


def ids_tagged(tag: str | ColumnElement[str]) -> Select[Any]:
    """The ids of works with exactly this tag, read from the `work_tags` index."""
    return sa_select(col(WorkTag.work_id)).where(col(WorkTag.tag) == tag)


# Built once, the owner bound at each call: *My works* asks both on every page.
_OWNED_WORKS = (
    select(Work)
    .where(col(Work.owner_id) == bindparam("owner_id"))
    .order_by(col(Work.id).desc())
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_OWNED_WORK_COUNT = (
    select(func.count()).select_from(Work).where(col(Work.owner_id) == bindparam("owner_id"))
)


def record_sequenced_log_indexes(connection: Connection, submission_ids: Sequence[int]) -> None:
    """Give each work whose leaf the log's sequencer just appended its index (`on_sequenced`)."""
    connection.execute(
        update(_WORKS)
        .where(
            _WORKS.c.log_submission_id == _SUBMISSIONS.c.id,
            _SUBMISSIONS.c.id.in_(submission_ids),
        )
        .values(log_index=_SUBMISSIONS.c.leaf_index)
    )


def list_owned_works(
    session: Session, owner: User, limit: int = 500, offset: int = 0
) -> Sequence[Work]:
    """The owner's works, newest first, `limit` of them after skipping `offset`."""
    parameters = {"owner_id": persisted_id(owner), "offset": offset, "limit": limit}
    return session.exec(_OWNED_WORKS, params=parameters).all()


def count_owned_works(session: Session, owner: User) -> int:
    """How many works the owner has, withdrawn and private ones included; read from the index."""
    return session.exec(_OWNED_WORK_COUNT, params={"owner_id": persisted_id(owner)}).one()


def prior_art_conflicts(session: Session, work: Work) -> Sequence[PriorArtConflict]:
    """Earlier registrations by other owners that this work resembles, for review."""
    return session.exec(select(PriorArtConflict).where(PriorArtConflict.work_id == work.id)).all()


def later_lookalikes(session: Session, owner: User) -> Sequence[tuple[PriorArtConflict, Work]]:
    """Other owners' later registrations that resemble the owner's works, newest first: what
    the earlier owner may dispute."""
    later = Work.__table__.alias("later_work")  # type: ignore[attr-defined]
    rows = session.exec(
        select(PriorArtConflict, Work)
        .join(Work, col(Work.id) == PriorArtConflict.earlier_work_id)
        .join(later, later.c.id == PriorArtConflict.work_id)
        .where(col(Work.owner_id) == persisted_id(owner), later.c.owner_id != persisted_id(owner))
        .order_by(col(PriorArtConflict.id).desc())
        .limit(200)
    ).all()
    return [(conflict, earlier) for conflict, earlier in rows]
