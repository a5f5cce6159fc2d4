"""The one work-visibility rule: public and not withdrawn for all, every own work for its owner."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.errors import NotFound
from registry.models import User, Visibility, Work, WorkStatus, persisted_id
from registry.repository import (
    get_owned_work,
    list_owned_works,
    visible_work,
    visible_work_ids,
)
from registry.search import SearchResult, visible_to
from similarity.engine import SimilarityEngine
from similarity.matcher import Match


def add_user(session: Session, email: str) -> User:
    user = User(email=email, display_name=email, password_hash="-", roles=["creator"])
    session.add(user)
    session.flush()
    return user


def add_work(
    session: Session,
    owner: User,
    title: str,
    visibility: Visibility = Visibility.PUBLIC,
    status: WorkStatus = WorkStatus.REGISTERED,
) -> Work:
    work = Work(
        owner_id=persisted_id(owner),
        title=title,
        visibility=visibility,
        status=status,
        sha256=hashlib.sha256(title.encode()).hexdigest(),
        mime_type="image/png",
        width=10,
        height=10,
        byte_size=100,
    )
    session.add(work)
    session.flush()
    return work


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    with Session(db_engine) as opened:
        yield opened


def test_a_withdrawn_work_leaves_the_gallery(session: Session) -> None:
    ana = add_user(session, "ana@example.com")
    shown = add_work(session, ana, "koi")
    carp = add_work(session, ana, "carp", status=WorkStatus.WITHDRAWN)
    eel = add_work(session, ana, "eel", visibility=Visibility.PRIVATE)
    listed = visible_work_ids(session, [shown.id or 0, carp.id or 0, eel.id or 0], None)
    assert listed == {shown.id}


def test_a_withdrawn_work_is_hidden_from_others_and_shown_to_its_owner(session: Session) -> None:
    ana = add_user(session, "ana@example.com")
    ben = add_user(session, "ben@example.com")
    withdrawn = add_work(session, ana, "carp", status=WorkStatus.WITHDRAWN)
    work_id = persisted_id(withdrawn)
    for stranger in (ben, None):
        with pytest.raises(NotFound, match=f"work {work_id} not found"):
            visible_work(session, work_id, stranger)
    assert visible_work(session, work_id, ana) is withdrawn
    assert get_owned_work(session, ana, work_id) is withdrawn
    assert [work.id for work in list_owned_works(session, ana)] == [work_id]


def test_a_private_work_is_its_owners_alone(session: Session) -> None:
    ana = add_user(session, "ana@example.com")
    ben = add_user(session, "ben@example.com")
    private = add_work(session, ana, "eel", visibility=Visibility.PRIVATE)
    with pytest.raises(NotFound):
        visible_work(session, persisted_id(private), ben)
    with pytest.raises(NotFound):
        get_owned_work(session, ben, persisted_id(private))
    assert visible_work(session, persisted_id(private), ana) is private


def test_another_owners_public_work_is_seen_but_not_owned(session: Session) -> None:
    ana = add_user(session, "ana@example.com")
    ben = add_user(session, "ben@example.com")
    public = add_work(session, ana, "koi")
    assert visible_work(session, persisted_id(public), ben) is public
    with pytest.raises(NotFound):
        get_owned_work(session, ben, persisted_id(public))


def test_search_keeps_the_matches_the_viewer_may_see(session: Session, tmp_path: Path) -> None:
    ana = add_user(session, "ana@example.com")
    ben = add_user(session, "ben@example.com")
    works = [
        add_work(session, ana, "koi"),
        add_work(session, ana, "carp", status=WorkStatus.WITHDRAWN),
        add_work(session, ana, "eel", visibility=Visibility.PRIVATE),
    ]
    ids = [persisted_id(work) for work in works]
    found = SearchResult([Match(work_id, 0.5, False, None) for work_id in ids], "copy")
    similarity = SimilarityEngine(tmp_path, None, lambda _id: None)

    def shown(viewer: User | None) -> list[int]:
        return [match.work_id for match in visible_to(session, found, viewer, similarity).matches]

    assert shown(None) == shown(ben) == ids[:1]
    assert shown(ana) == ids
