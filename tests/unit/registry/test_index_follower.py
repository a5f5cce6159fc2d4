"""The index follower: rounds on a timer that outlive a failed round, catching up after a
rebuild that began before the latest changes, and after the changes it missed were pruned."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from registry import snapshots
from registry.db import unit_of_work
from registry.models import IndexChange, persisted_id, utcnow
from registry.schemas import WorkMetadata
from registry.service import Upload, reference_image_loader
from registry.snapshots import CHANGE_RETENTION, IndexFollower, prune_index_changes
from similarity.engine import SimilarityEngine
from tests.factories import photo_jpeg
from tests.unit.registry.monitoring.support import make_user
from tests.unit.registry.wiring import RegistryParts


def register(parts: RegistryParts, name: str) -> int:
    owner = make_user(parts, f"{name}@example.com")
    with unit_of_work(parts.session) as session:
        upload = Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata())
        return persisted_id(parts.registrar.register(session, owner, upload).work)


def opened(parts: RegistryParts) -> IndexFollower:
    with parts.read_session() as session:
        return IndexFollower.open(session, parts.restarted().similarity)


def failing_once(sessions: Callable[[], Session]) -> Callable[[], Session]:
    calls = 0

    def session() -> Session:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the database went away for a moment")
        return sessions()

    return session


def test_the_timer_thread_applies_changes_after_a_failed_round(parts: RegistryParts) -> None:
    follower = opened(parts)
    follower.start(failing_once(parts.read_session), interval_s=0.02)
    try:
        work_id = register(parts, "coffee")
        deadline = time.monotonic() + 10
        while work_id not in follower.engine.work_ids() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert follower.engine.work_ids() == {work_id}
    finally:
        follower.stop()


def test_a_round_after_a_rebuild_brings_back_what_the_rebuild_missed(
    parts: RegistryParts,
) -> None:
    work_id = register(parts, "coffee")
    follower = opened(parts)
    assert follower.engine.work_ids() == {work_id}
    # A rebuild that read the database before the work was registered, and finished after.
    follower.engine.rebuild([])
    with parts.read_session() as session:
        follower.follow(session)
    assert follower.engine.work_ids() == {work_id}


class Owner:
    """Stands for the app's services: the follower's sessions are a method of its owner."""

    def __init__(self, parts: RegistryParts) -> None:
        self.parts = parts

    def read_session(self) -> Session:
        return self.parts.read_session()


def test_the_thread_ends_once_its_owner_is_gone(parts: RegistryParts) -> None:
    owner = Owner(parts)
    follower = opened(parts)
    follower.start(owner.read_session, interval_s=0.02)
    thread = follower._thread
    assert thread is not None
    assert thread.is_alive()
    del owner, follower
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def kept_changes(parts: RegistryParts) -> list[int]:
    with parts.read_session() as session:
        return list(session.exec(select(IndexChange.work_id)))


def test_pruning_deletes_only_the_changes_older_than_the_retention(parts: RegistryParts) -> None:
    old, recent = register(parts, "coffee"), register(parts, "chelsea")
    with unit_of_work(parts.session) as session:
        for change in session.exec(select(IndexChange).where(IndexChange.work_id == old)):
            change.recorded_at = utcnow() - CHANGE_RETENTION - timedelta(minutes=1)
            session.add(change)
    with unit_of_work(parts.session) as session:
        assert prune_index_changes(session, utcnow()) == 1
    assert kept_changes(parts) == [recent]
    with unit_of_work(parts.session) as session:
        assert prune_index_changes(session, utcnow()) == 0


def test_a_follower_whose_unseen_changes_were_pruned_compares_its_whole_index(
    parts: RegistryParts,
) -> None:
    follower = opened(parts)
    missed = [register(parts, "coffee"), register(parts, "chelsea")]
    seen_next = register(parts, "rocket")
    with unit_of_work(parts.session) as session:
        pruned = session.exec(select(IndexChange).where(col(IndexChange.work_id).in_(missed)))
        for change in pruned:
            session.delete(change)
    with parts.read_session() as session:
        follower.follow(session)
    assert follower.engine.work_ids() == {*missed, seen_next}


def test_catching_up_rebuilds_an_empty_index_and_adds_to_one_that_holds_more(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(snapshots, "REBUILD_ABOVE", 1)
    first = {register(parts, name) for name in ("coffee", "chelsea", "astronaut")}
    engine = SimilarityEngine(
        tmp_path / "new-machine",
        embedder=parts.embedder,
        reference_image=reference_image_loader(parts.read_session, parts.blobs, parts.limits),
    )
    with parts.read_session() as session:
        follower = IndexFollower.open(session, engine)
    # Three to add and none held: filed afresh.
    assert (engine.work_ids(), engine.rebuilds) == (first, 1)
    later = {register(parts, "rocket"), register(parts, "camera")}
    with parts.read_session() as session:
        assert follower.catch_up(session) == 2
    # Two to add to the three held (a snapshot and the works since): added.
    assert (engine.work_ids(), engine.rebuilds) == (first | later, 1)
