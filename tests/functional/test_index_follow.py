"""Every process's index follows the works the others register and withdraw."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from frontend.services import Services
from frontend.settings import Settings
from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.models import Role, User, persisted_id
from registry.schemas import WorkMetadata
from registry.service import Upload
from registry.snapshots import build_snapshot
from similarity.images import load_image
from tests.factories import photo_jpeg

pytestmark = pytest.mark.pages_on_sqlite


@pytest.fixture
def second(settings: Settings, services: Services) -> Iterator[Services]:
    """Another process on the same home and database, its index opened before any work."""
    # A long interval: the tests drive the rounds themselves.
    wiring = Services(settings.model_copy(update={"index_follow_s": 3600.0}))
    wiring.similarity  # noqa: B018 - opened now, as a process started earlier would have
    yield wiring
    wiring.close()


def make_owner(services: Services) -> User:
    with unit_of_work(services.session) as session:
        return create_user(
            session,
            email="owner@example.com",
            password="correct horse battery",
            roles={Role.RIGHTS_HOLDER},
        )


def register(services: Services, owner: User, name: str) -> int:
    with unit_of_work(services.session) as session:
        upload = Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata())
        return persisted_id(services.registrar.register(session, owner, upload).work)


def best_match(services: Services, name: str) -> int | None:
    query = load_image(photo_jpeg(name, quality=60, max_side=400), services.limits)
    matches = [m for m in services.similarity.search(query, top_k=3) if m.decision == "copy"]
    return matches[0].work_id if matches else None


def follow_once(services: Services) -> int:
    with services.read_session() as session:
        return services.index_follower.follow(session)


def test_a_work_registered_by_one_process_matches_in_another_after_a_round(
    services: Services, second: Services
) -> None:
    work_id = register(services, make_owner(services), "coffee")
    assert best_match(second, "coffee") is None
    assert follow_once(second) == 1
    assert best_match(second, "coffee") == work_id


def test_a_work_withdrawn_by_one_process_stops_matching_in_another_after_a_round(
    services: Services, second: Services
) -> None:
    owner = make_owner(services)
    work_id = register(services, owner, "coffee")
    follow_once(second)
    assert best_match(second, "coffee") == work_id
    with unit_of_work(services.session) as session:
        services.registrar.withdraw(session, owner, work_id)
    assert follow_once(second) == 1
    assert best_match(second, "coffee") is None
    assert best_match(services, "coffee") is None


def test_a_process_opened_on_an_older_saved_index_catches_up_at_open(
    services: Services, settings: Settings
) -> None:
    owner = make_owner(services)
    first = register(services, owner, "coffee")
    saved = {path.name: path.read_bytes() for path in settings.index_dir.glob("*.index")}
    second = register(services, owner, "chelsea")
    # Another process, which had not yet seen the second work, saved its view last.
    for name, data in saved.items():
        (settings.index_dir / name).write_bytes(data)
    restarted = Services(settings)
    try:
        assert best_match(restarted, "chelsea") == second
        assert restarted.similarity.work_ids() == {first, second}
    finally:
        restarted.close()


def test_the_follower_thread_runs_rounds_on_its_timer(
    services: Services, settings: Settings
) -> None:
    following = Services(settings.model_copy(update={"index_follow_s": 0.05}))
    try:
        following.similarity  # noqa: B018 - opened before the work exists
        work_id = register(services, make_owner(services), "coffee")
        deadline = time.monotonic() + 10
        while work_id not in following.similarity.work_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert work_id in following.similarity.work_ids()
    finally:
        following.close()


def test_a_process_on_a_new_machine_starts_from_the_snapshot_and_the_works_since(
    settings: Settings, s3_blob_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = settings.model_copy(
        update={"blob_url": s3_blob_url, "database_url": settings.resolved_database_url}
    )
    first = Services(shared)
    first.initialise()
    try:
        owner = make_owner(first)
        coffee = register(first, owner, "coffee")
        with unit_of_work(first.session) as session:
            snapshot = build_snapshot(session, first.similarity_at, first.evidence_blobs)
        rocket = register(first, owner, "rocket")
    finally:
        first.close()
    new_machine = Services(shared.model_copy(update={"home": tmp_path / "new-machine"}))
    try:
        with caplog.at_level(logging.INFO, logger="registry.snapshots"):
            assert best_match(new_machine, "coffee") == coffee
        assert f"index started from snapshot {persisted_id(snapshot)}: 1 works" in caplog.text
        assert best_match(new_machine, "rocket") == rocket
    finally:
        new_machine.close()
