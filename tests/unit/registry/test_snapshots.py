"""Index snapshots: built from the database, stored on S3, unpacked by a new process and
brought up to date with the works registered and withdrawn since."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from registry import snapshots
from registry.blobs import LocalBlobStore, S3BlobStore, S3Location
from registry.db import unit_of_work
from registry.models import User, Work, persisted_id
from registry.schemas import WorkMetadata
from registry.service import Upload, reference_image_loader
from registry.snapshots import (
    EngineAt,
    IndexFollower,
    build_snapshot,
    holds_index,
    indexable_fingerprints,
    latest_snapshot,
    unpack_latest,
)
from similarity.engine import SimilarityEngine
from similarity.images import load_image
from tests.factories import photo_jpeg
from tests.unit.registry.monitoring.support import make_user
from tests.unit.registry.wiring import RegistryParts

FIRST = ("astronaut", "coffee", "chelsea")
LATER = ("rocket", "camera")


def engine_at(parts: RegistryParts) -> EngineAt:
    def build(folder: Path) -> SimilarityEngine:
        return SimilarityEngine(
            folder,
            embedder=parts.embedder,
            reference_image=reference_image_loader(parts.read_session, parts.blobs, parts.limits),
        )

    return build


def register(parts: RegistryParts, names: tuple[str, ...]) -> list[int]:
    owner = make_user(parts, f"{names[0]}@example.com")
    with unit_of_work(parts.session) as session:
        return [
            persisted_id(
                parts.registrar.register(
                    session, owner, Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata())
                ).work
            )
            for name in names
        ]


def answers(engine: SimilarityEngine, parts: RegistryParts) -> list[list[tuple[int, float]]]:
    queries = [
        load_image(photo_jpeg(name, quality=60, max_side=400), parts.limits)
        for name in FIRST + LATER
    ]
    return [
        [(match.work_id, round(match.score, 5)) for match in engine.search(query, top_k=5)]
        for query in queries
    ]


def test_snapshot_on_s3_plus_delta_answers_as_a_fresh_build(
    parts: RegistryParts, s3_blob_url: str, tmp_path: Path
) -> None:
    store = S3BlobStore(S3Location.parse(s3_blob_url))
    build = engine_at(parts)
    first = register(parts, FIRST)
    with unit_of_work(parts.session) as session:
        snapshot = build_snapshot(session, build, store)
    later = register(parts, LATER)
    assert snapshot.works == len(FIRST)
    assert snapshot.last_work_id < min(later)

    with parts.session() as session:
        assert latest_snapshot(session) == snapshot
        assert not holds_index(tmp_path / "loaded")
        assert unpack_latest(session, store, tmp_path / "loaded") == snapshot
        assert holds_index(tmp_path / "loaded")
        loaded = build(tmp_path / "loaded")
        assert loaded.work_ids() == set(first)
        IndexFollower.open(session, loaded)
        fresh = build(tmp_path / "fresh")
        fresh.rebuild(indexable_fingerprints(session))
    assert loaded.rebuilds == 0  # the snapshot plus the delta, not every fingerprint again
    assert len(loaded) == len(fresh) == len(FIRST) + len(LATER)
    assert answers(loaded, parts) == answers(fresh, parts)
    assert [matches[0][0] for matches in answers(loaded, parts)][-2:] == later


def test_a_snapshot_whose_blob_is_missing_unpacks_nothing(
    parts: RegistryParts, tmp_path: Path
) -> None:
    register(parts, FIRST)
    with unit_of_work(parts.session) as session:
        build_snapshot(session, engine_at(parts), LocalBlobStore(tmp_path / "builder"))
    with parts.session() as session:
        elsewhere = LocalBlobStore(tmp_path / "another-machine")
        assert unpack_latest(session, elsewhere, tmp_path / "index") is None
    assert not holds_index(tmp_path / "index")


def test_fingerprints_are_read_a_chunk_at_a_time_without_losing_or_repeating_a_work(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    works = register(parts, FIRST + LATER)
    withdrawn = works[2]
    with unit_of_work(parts.session) as session:
        work = session.get(Work, withdrawn)
        owner = session.get(User, work.owner_id) if work is not None else None
        assert owner is not None
        parts.registrar.withdraw(session, owner, withdrawn)
    monkeypatch.setattr(snapshots, "_READ_CHUNK", 2)
    indexable = [work for work in works if work != withdrawn]
    with parts.session() as session:
        read = list(indexable_fingerprints(session))
        stored = {work.id: work.fingerprint for work in session.exec(select(Work))}
        assert [work_id for work_id, _ in read] == indexable
        assert all(fingerprint.to_bytes() == stored[work_id] for work_id, fingerprint in read)
        assert [w for w, _ in indexable_fingerprints(session, up_to=works[3])] == indexable[:3]
