"""Registration: registered, duplicate and conflict outcomes, all or nothing, start-up repair."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import func, select

from registry.accounts.service import create_user
from registry.analysis import AnalysisPool
from registry.db import unit_of_work
from registry.errors import CopymarkError
from registry.log.commitments import check_openings, openings_from_json
from registry.log.events import parse_event
from registry.log.models import LogLeaf
from registry.log.store import AttestationLog, verify_log
from registry.models import (
    PriorArtConflict,
    User,
    Visibility,
    Work,
    WorkReference,
    WorkStatus,
    persisted_id,
)
from registry.schemas import WorkMetadata
from registry.service import FINGERPRINT_MAX_SIDE, Registered, Rejected, Upload
from similarity.images import load_image
from similarity.matcher import Match
from similarity.references import ReferenceFeatures
from tests.corpus.hostile import HostileFile, hostile_files
from tests.factories import photo_jpeg, random_png
from tests.unit.registry.wiring import RegistryParts

# One refused file of each kind: empty, not an image, a decompression bomb, a polyglot, a stub.
HOSTILE = (
    "empty.jpg",
    "pdf-named.jpg",
    "png-bomb-8000x8000.png",
    "polyglot-png-html.png",
    "jpeg-soi-only.jpg",
)


def make_owner(parts: RegistryParts, email: str = "owner@example.com") -> User:
    with unit_of_work(parts.session) as session:
        return create_user(session, email=email, password="long enough")


def register(parts: RegistryParts, owner: User, *datas: bytes) -> list[int]:
    uploads = [Upload(data, f"file-{n}.png", WorkMetadata()) for n, data in enumerate(datas)]
    with unit_of_work(parts.session) as session:
        outcomes = parts.registrar.register_batch(session, owner, uploads)
    return [outcome.work.id for outcome in outcomes]  # type: ignore[union-attr,misc]


def register_one(parts: RegistryParts, owner: User, data: bytes) -> Registered:
    with unit_of_work(parts.session) as session:
        return parts.registrar.register(session, owner, Upload(data, "photo.jpg", WorkMetadata()))


def rows(parts: RegistryParts) -> tuple[int, int]:
    with parts.session() as session:
        works = session.exec(select(func.count()).select_from(Work)).one()
        leaves = session.exec(select(func.count()).select_from(LogLeaf)).one()
    return works, leaves


def stored_blobs(parts: RegistryParts) -> list[str]:
    return sorted(path.name for path in parts.blob_dir.rglob("*") if path.is_file())


def test_a_first_upload_is_registered_with_its_log_leaf(parts: RegistryParts) -> None:
    owner = make_owner(parts)
    outcome = register_one(parts, owner, photo_jpeg("coffee"))
    assert outcome.status == "registered"
    assert outcome.conflict_with is None
    assert outcome.work.status == WorkStatus.REGISTERED
    assert outcome.work.log_index == 0
    with parts.session() as session:
        leaf = AttestationLog(session, parts.signer).leaf(0)
        event = json.loads(leaf.leaf)
        assert verify_log(session, parts.signer.public_key).ok
    assert (event["work_id"], event["sha256"]) == (outcome.work.id, outcome.work.sha256)
    assert stored_blobs(parts) == [outcome.work.sha256]


def test_a_private_upload_commits_to_its_digests_and_keeps_the_openings_on_its_row(
    parts: RegistryParts,
) -> None:
    owner = make_owner(parts)
    private = WorkMetadata(visibility=Visibility.PRIVATE)
    with unit_of_work(parts.session) as session:
        outcome = parts.registrar.register(
            session, owner, Upload(random_png(77), "secret.png", private)
        )
    with parts.session() as session:
        leaf = AttestationLog(session).leaf(outcome.work.log_index or 0).leaf
        work = session.get(Work, outcome.work.id)
        assert work is not None
        event = parse_event(leaf)
        opened = check_openings(event.committed(), openings_from_json(work.log_openings))
    assert outcome.work.sha256.encode() not in leaf
    assert opened["sha256"] == outcome.work.sha256
    assert isinstance(opened["fingerprints"], dict)
    assert all(digest.encode() not in leaf for digest in map(str, opened["fingerprints"].values()))


def test_the_same_owner_uploading_the_same_bytes_gets_the_earlier_work(
    parts: RegistryParts,
) -> None:
    owner = make_owner(parts)
    first = register_one(parts, owner, random_png(1))
    again = register_one(parts, owner, random_png(1))
    assert again.status == "duplicate"
    assert again.work.id == first.work.id
    assert again.work.log_index == first.work.log_index
    assert rows(parts) == (1, 1)


def test_another_owners_near_copy_is_a_conflict_kept_for_review(parts: RegistryParts) -> None:
    original = register_one(parts, make_owner(parts), photo_jpeg("astronaut", quality=95))
    # Re-encoded at a lower quality and scaled down: other bytes, the same picture.
    copier = make_owner(parts, "copier@example.com")
    copy = register_one(parts, copier, photo_jpeg("astronaut", quality=40, max_side=400))
    assert copy.status == "conflict"
    assert copy.conflict_with == original.work.id
    assert copy.work.status == WorkStatus.CONFLICT
    assert copy.work.log_index == 1
    with parts.session() as session:
        (review,) = session.exec(select(PriorArtConflict)).all()
    assert (review.work_id, review.earlier_work_id) == (copy.work.id, original.work.id)
    assert review.resolution == "open"


def test_a_conflict_names_a_private_earlier_work_to_no_one_but_the_review(
    parts: RegistryParts,
) -> None:
    with unit_of_work(parts.session) as session:
        original = parts.registrar.register(
            session,
            make_owner(parts),
            Upload(photo_jpeg("astronaut"), "a.jpg", WorkMetadata(visibility=Visibility.PRIVATE)),
        )
    copier = make_owner(parts, "copier@example.com")
    copy = register_one(parts, copier, photo_jpeg("astronaut", quality=40, max_side=400))
    assert copy.status == "conflict"
    assert copy.conflict_with is None
    assert copy.conflict_note == "conflicts with an earlier registration by another owner"
    with parts.session() as session:
        (review,) = session.exec(select(PriorArtConflict)).all()
    assert review.earlier_work_id == original.work.id


def test_another_owners_look_alike_that_does_not_verify_is_no_conflict(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = register_one(parts, make_owner(parts), photo_jpeg("astronaut", quality=95))
    # The engine finds the earlier work close (a possible match) but cannot verify it, and its
    # hashes are far apart: a resemblance, not a copy, so nobody's registration is held up.
    look_alike = Match(persisted_id(original.work), 0.45, False, None, p_copy=0.8, hash_distance=96)
    assert look_alike.decision == "possible"
    monkeypatch.setattr(parts.similarity, "search", lambda *_args, **_kwargs: [look_alike])
    other = register_one(parts, make_owner(parts, "other@example.com"), photo_jpeg("coffee"))
    assert other.status == "registered"
    assert other.conflict_with is None
    assert other.work.status == WorkStatus.REGISTERED
    with parts.session() as session:
        assert session.exec(select(PriorArtConflict)).all() == []


@pytest.mark.parametrize(
    "hostile",
    [file for file in hostile_files() if file.name in HOSTILE],
    ids=lambda file: file.name,
)
def test_a_hostile_upload_is_refused_and_leaves_nothing(
    parts: RegistryParts, hostile: HostileFile
) -> None:
    owner = make_owner(parts)
    with pytest.raises(CopymarkError) as refused:
        register_one(parts, owner, hostile.data)
    assert 400 <= refused.value.status_code < 500
    assert hostile.message in refused.value.message
    assert rows(parts) == (0, 0)
    assert stored_blobs(parts) == []


def test_a_process_pool_registers_streamed_uploads_as_threads_do(
    parts: RegistryParts, model_cache: Path
) -> None:
    owner = make_owner(parts)
    photo, fake = photo_jpeg("coffee", max_side=400), b"<svg onload=alert(1)></svg>"
    streams = [(io.BytesIO(photo), "coffee.jpg"), (io.BytesIO(fake), "fake.jpg")]
    pool = AnalysisPool(1, model_cache)
    parts.registrar.analysis_pool = pool
    try:
        with unit_of_work(parts.session) as session:
            registered, rejected = parts.registrar.register_streams(
                session, owner, streams, WorkMetadata()
            )
    finally:
        parts.registrar.analysis_pool = None
        pool.close()
    assert isinstance(registered, Registered)
    assert registered.status == "registered"
    image = load_image(photo, parts.limits, max_side=FINGERPRINT_MAX_SIDE)
    assert registered.work.fingerprint == parts.similarity.fingerprint(image).to_bytes()
    stored = _stored_reference(parts, persisted_id(registered.work))
    assert stored is not None
    # The workers run SSCD's student, which these parts' engine leaves out: keypoints compare.
    keypoints = ReferenceFeatures.from_bytes(stored).keypoints
    expected = parts.similarity.reference_features(image).keypoints
    assert expected.descriptors is not None
    assert np.array_equal(keypoints.points, expected.points)
    assert np.array_equal(keypoints.descriptors, expected.descriptors)  # type: ignore[arg-type]
    assert isinstance(rejected, Rejected)
    assert "SVG" in rejected.message
    # The refused file was streamed into the store before it was analysed; it is removed.
    assert stored_blobs(parts) == [hashlib.sha256(photo).hexdigest()]


def _stored_reference(parts: RegistryParts, work_id: int) -> bytes | None:
    with parts.session() as session:
        row = session.get(WorkReference, work_id)
    return None if row is None else row.features


def test_registration_stores_what_searches_check_the_work_against(parts: RegistryParts) -> None:
    photo = photo_jpeg("chelsea")
    (work_id,) = register(parts, make_owner(parts), photo)
    stored = _stored_reference(parts, work_id)
    assert stored is not None
    image = load_image(photo, parts.limits, max_side=FINGERPRINT_MAX_SIDE)
    expected = parts.similarity.reference_features(image)
    assert stored == expected.to_bytes()
    assert len(ReferenceFeatures.from_bytes(stored).keypoints.points) > 100


def _copy_found(parts: RegistryParts, data: bytes) -> Match:
    image = _decoded(data)
    (best, *_rest) = parts.similarity.search(
        parts.similarity.fingerprint(image), top_k=3, image=image
    )
    return best


def test_a_copy_is_verified_from_the_stored_features_without_decoding_the_work(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work_id,) = register(parts, make_owner(parts), photo_jpeg("chelsea"))
    fresh = parts.restarted()

    def no_blobs(digest: str) -> bytes:
        raise AssertionError(f"blob {digest} was read although the work's features are stored")

    monkeypatch.setattr(fresh.blobs, "get", no_blobs)
    best = _copy_found(fresh, photo_jpeg("chelsea", quality=30, max_side=300))
    assert (best.work_id, best.verified, best.decision) == (work_id, True, "copy")


def test_a_work_registered_before_features_were_stored_matches_as_one_registered_now(
    parts: RegistryParts,
) -> None:
    (work_id,) = register(parts, make_owner(parts), photo_jpeg("chelsea"))
    query = photo_jpeg("chelsea", quality=30, max_side=300)
    now = _copy_found(parts.restarted(), query)
    with unit_of_work(parts.session) as session:
        session.delete(session.get(WorkReference, work_id))
    assert _stored_reference(parts, work_id) is None
    before = _copy_found(parts.restarted(), query)
    assert (before.work_id, before.verified, before.decision) == (work_id, True, "copy")
    assert (before.score, before.inliers, before.region, before.p_copy) == (
        now.score,
        now.inliers,
        now.region,
        now.p_copy,
    )


def test_damaged_stored_features_are_ignored_for_the_work_s_image(parts: RegistryParts) -> None:
    (work_id,) = register(parts, make_owner(parts), photo_jpeg("chelsea"))
    query = photo_jpeg("chelsea", quality=30, max_side=300)
    intact = _copy_found(parts.restarted(), query)
    with unit_of_work(parts.session) as session:
        row = session.get(WorkReference, work_id)
        assert row is not None
        row.features = row.features[: len(row.features) // 3]
        session.add(row)
    damaged = _copy_found(parts.restarted(), query)
    assert (damaged.work_id, damaged.decision, damaged.score) == (
        work_id,
        "copy",
        intact.score,
    )


def test_a_failure_while_logging_writes_no_work_and_no_leaf(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_owner(parts)

    def crash(*_args: object, **_kwargs: object) -> list[int]:
        raise OSError("disk vanished")

    monkeypatch.setattr(AttestationLog, "append_events", crash)
    with pytest.raises(OSError, match="disk vanished"):
        register(parts, owner, random_png(1))
    assert rows(parts) == (0, 0)


def test_recovery_removes_blobs_a_failed_registration_left(
    parts: RegistryParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_owner(parts)
    monkeypatch.setattr(AttestationLog, "append_events", lambda *_a, **_k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        register(parts, owner, random_png(2))
    monkeypatch.undo()
    orphans = [p for p in parts.blob_dir.rglob("*") if p.is_file()]
    assert len(orphans) == 1
    an_hour_ago = time.time() - 7200
    os.utime(orphans[0], (an_hour_ago, an_hour_ago))
    with parts.session() as session:
        assert parts.registrar.recover(session)["orphan_blobs_removed"] == 1
    assert not orphans[0].exists()


def test_a_lost_index_is_rebuilt_from_the_database_on_recovery(parts: RegistryParts) -> None:
    owner = make_owner(parts)
    (work_id,) = register(parts, owner, photo_jpeg("rocket"))
    for path in parts.index_dir.iterdir():
        if path.suffix == ".index":
            path.unlink()
    fresh = parts.restarted()
    with fresh.session() as session:
        assert fresh.registrar.recover(session)["works_reindexed"] == 1
    matches = fresh.similarity.search(
        fresh.similarity.fingerprint(_decoded(photo_jpeg("rocket", quality=50)))
    )
    assert matches[0].work_id == work_id


def test_a_withdrawn_work_stops_matching(parts: RegistryParts) -> None:
    owner = make_owner(parts)
    (work_id,) = register(parts, owner, photo_jpeg("coffee"))
    query = parts.similarity.fingerprint(_decoded(photo_jpeg("coffee", quality=40)))
    assert parts.similarity.search(query)[0].work_id == work_id
    with unit_of_work(parts.session) as session:
        parts.registrar.withdraw(session, owner, work_id)
    assert work_id not in [m.work_id for m in parts.similarity.search(query)]


def test_concurrent_registrations_get_distinct_contiguous_log_indexes(
    parts: RegistryParts,
) -> None:
    owners = [make_owner(parts, f"owner{n}@example.com") for n in range(3)]
    errors: list[BaseException] = []

    def work(owner: User, seed: int) -> None:
        try:
            register(parts, owner, random_png(seed), random_png(seed + 100))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(o, n)) for n, o in enumerate(owners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with parts.session() as session:
        indexes = sorted(i for i in session.exec(select(Work.log_index)).all() if i is not None)
        assert indexes == list(range(6))
        assert verify_log(session, parts.signer.public_key).ok


def _decoded(data: bytes):  # type: ignore[no-untyped-def]
    from similarity.images import load_image

    return load_image(data, max_side=512)
