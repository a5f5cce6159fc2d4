"""Registration is all or nothing, and start-up repairs what a crash left behind."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlmodel import func, select

from frontend.services import Services
from registry.accounts import create_user
from registry.log.models import LogLeaf
from registry.log.store import AttestationLog, verify_log
from registry.models import User, Work
from registry.schemas import WorkMetadata
from registry.service import Upload
from tests.factories import photo_jpeg, random_png


def make_owner(services: Services, email: str = "owner@example.com") -> User:
    with services.session() as session:
        user = create_user(session, email=email, password="long enough")
        session.commit()
        return user


def register(services: Services, owner: User, *datas: bytes) -> list[int]:
    uploads = [Upload(data, f"file-{n}.png", WorkMetadata()) for n, data in enumerate(datas)]
    with services.session() as session:
        outcomes = services.registrar.register_batch(session, owner, uploads)
        session.commit()
    return [outcome.work.id for outcome in outcomes]  # type: ignore[union-attr,misc]


def rows(services: Services) -> tuple[int, int]:
    with services.session() as session:
        works = session.exec(select(func.count()).select_from(Work)).one()
        leaves = session.exec(select(func.count()).select_from(LogLeaf)).one()
    return works, leaves


def test_a_failure_while_logging_writes_no_work_and_no_leaf(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_owner(services)

    def crash(*_args: object, **_kwargs: object) -> list[int]:
        raise OSError("disk vanished")

    monkeypatch.setattr(AttestationLog, "append_events", crash)
    with pytest.raises(OSError, match="disk vanished"):
        register(services, owner, random_png(1))
    assert rows(services) == (0, 0)


def test_start_removes_blobs_a_failed_registration_left(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_owner(services)
    monkeypatch.setattr(AttestationLog, "append_events", lambda *_a, **_k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        register(services, owner, random_png(2))
    monkeypatch.undo()
    orphans = [p for p in services.settings.blob_dir.rglob("*") if p.is_file()]
    assert len(orphans) == 1
    an_hour_ago = time.time() - 7200
    os.utime(orphans[0], (an_hour_ago, an_hour_ago))
    assert services.start()["orphan_blobs_removed"] == 1
    assert not orphans[0].exists()


def test_a_lost_index_is_rebuilt_from_the_database_on_start(services: Services) -> None:
    owner = make_owner(services)
    (work_id,) = register(services, owner, photo_jpeg("rocket"))
    for path in services.settings.index_dir.iterdir():
        if path.suffix == ".index":
            path.unlink()
    fresh = Services(services.settings)
    try:
        assert fresh.start()["works_reindexed"] == 1
        matches = fresh.similarity.search(
            fresh.similarity.fingerprint(_decoded(photo_jpeg("rocket", quality=50)))
        )
        assert matches[0].work_id == work_id
    finally:
        fresh.close()


def test_a_withdrawn_work_stops_matching(services: Services) -> None:
    owner = make_owner(services)
    (work_id,) = register(services, owner, photo_jpeg("coffee"))
    query = services.similarity.fingerprint(_decoded(photo_jpeg("coffee", quality=40)))
    assert services.similarity.search(query)[0].work_id == work_id
    with services.session() as session:
        services.registrar.withdraw(session, owner, work_id)
        session.commit()
    assert work_id not in [m.work_id for m in services.similarity.search(query)]


def test_concurrent_registrations_get_distinct_contiguous_log_indexes(services: Services) -> None:
    owners = [make_owner(services, f"owner{n}@example.com") for n in range(3)]
    errors: list[BaseException] = []

    def work(owner: User, seed: int) -> None:
        try:
            register(services, owner, random_png(seed), random_png(seed + 100))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(o, n)) for n, o in enumerate(owners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with services.session() as session:
        indexes = sorted(i for i in session.exec(select(Work.log_index)).all() if i is not None)
        assert indexes == list(range(6))
        assert verify_log(session, services.signer.public_key).ok


def _decoded(data: bytes):  # type: ignore[no-untyped-def]
    from similarity.images import load_image

    return load_image(data, max_side=512)
