"""The similarity index split by work id across shard processes answers as one index would.

Two shards (`ShardSelection` 0/2 and 1/2) are served over HTTP on loopback, each following the
change feed for its own works; a process configured with `index_shards` searches them, verifies
where the query is and reads the references' stored features from the database.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from alembic import command
from fastapi.testclient import TestClient

from bench.processes import cli
from bench.servers import free_port
from frontend.app import create_app
from frontend.index_shard import shard_app
from frontend.services import Services
from frontend.settings import Settings
from registry.accounts.service import create_user
from registry.db import make_engine, unit_of_work
from registry.index_shards import IndexUnavailable
from registry.migrations import alembic_config, migrate
from registry.models import Role, User, persisted_id
from registry.monitoring.screenshots import NoScreenshots
from registry.schemas import WorkMetadata
from registry.service import Upload
from registry.snapshots import build_snapshot, indexable_fingerprints
from similarity.crawl.politeness import HostPoliteness
from similarity.engine import SimilarityEngine
from similarity.images import load_image
from similarity.index.shards import HASH_BYTES, MAX_QUERY_ROWS, ShardSelection
from similarity.matcher import Decision
from tests.factories import PHOTOS, make_account, photo_jpeg, random_png
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import ORIGINALS, copies_of_originals, gallery_seeds

REGISTERED = ("astronaut", "coffee", "chelsea", "rocket")
FOLLOW_S = 0.1


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


class ShardServer:
    """One shard's engine, follower and HTTP server in this process, on a loopback port."""

    def __init__(self, settings: Settings, shard: ShardSelection) -> None:
        self.services = Services(settings.model_copy(update={"index_follow_s": FOLLOW_S}))
        self.follower = self.services.shard_follower(shard)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                shard_app(self.follower, shard), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server.started)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.services.close()


def make_owner(services: Services, email: str = "owner@example.com") -> User:
    with unit_of_work(services.session) as session:
        return create_user(
            session, email=email, password="correct horse battery", roles={Role.CREATOR}
        )


def register(services: Services, owner: User, data: bytes, name: str) -> int:
    with unit_of_work(services.session) as session:
        upload = Upload(data, f"{name}.jpg", WorkMetadata())
        return persisted_id(services.registrar.register(session, owner, upload).work)


@pytest.fixture
def registered(services: Services) -> dict[str, int]:
    owner = make_owner(services)
    works = {name: register(services, owner, photo_jpeg(name), name) for name in REGISTERED}
    for seed in range(4):
        works[f"blocks-{seed}"] = register(services, owner, random_png(seed), f"blocks-{seed}")
    return works


@pytest.fixture
def shards(settings: Settings, registered: dict[str, int]) -> Iterator[list[ShardServer]]:
    servers = [ShardServer(settings, ShardSelection(shard, 2)) for shard in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def sharded(settings: Settings, shards: list[ShardServer]) -> Iterator[Services]:
    """A process searching the shards: it holds no index of its own."""
    wiring = Services(settings.model_copy(update={"index_shards": [s.url for s in shards]}))
    yield wiring
    wiring.close()


def queries() -> dict[str, bytes]:
    """Copies of the registered works (recompressed, downscaled, cropped) and images never
    registered."""
    found = {f"{name}-small": photo_jpeg(name, quality=55, max_side=300) for name in REGISTERED}
    found["astronaut-crop"] = _cropped(photo_jpeg("astronaut"))
    found["blocks-1-again"] = random_png(1, side=200)
    never = [name for name in PHOTOS if name not in REGISTERED]
    found |= {name: photo_jpeg(name) for name in never}
    found |= {f"blocks-{seed}": random_png(seed) for seed in (11, 12)}
    return found


def _cropped(data: bytes) -> bytes:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    buffer = io.BytesIO()
    image.crop((width // 8, height // 8, width * 7 // 8, height * 7 // 8)).save(buffer, "JPEG")
    return buffer.getvalue()


Answer = list[tuple[int, float, float, bool, Decision]]


def answers(engine: SimilarityEngine, services: Services) -> dict[str, Answer]:
    result = {}
    for name, data in queries().items():
        image = load_image(data, services.limits)
        matches = engine.search(image, top_k=5)
        result[name] = [(m.work_id, m.score, m.p_copy, m.verified, m.decision) for m in matches]
    return result


def test_shards_answer_as_one_index_built_from_the_database(
    services: Services,
    sharded: Services,
    shards: list[ShardServer],
    registered: dict[str, int],
    tmp_path: Path,
) -> None:
    # Wired as a searching process's own engine is, over an index built afresh from the database.
    whole = services.similarity_at(tmp_path / "whole", second_opinion=True)
    with services.read_session() as session:
        whole.rebuild(indexable_fingerprints(session))
    held = [server.follower.engine.work_ids() for server in shards]
    assert held[0] | held[1] == set(registered.values())
    assert all(work_id % 2 == 0 for work_id in held[0])
    assert all(work_id % 2 == 1 for work_id in held[1])

    expected = answers(whole, services)
    assert answers(sharded.similarity, sharded) == expected
    best = {name: (found[0][0], found[0][4]) for name, found in expected.items() if found}
    for name in REGISTERED:
        assert best[f"{name}-small"] == (registered[name], "copy")
    assert best["astronaut-crop"] == (registered["astronaut"], "copy")
    assert best["blocks-1-again"] == (registered["blocks-1"], "copy")
    never = [name for name in PHOTOS if name not in REGISTERED] + ["blocks-11", "blocks-12"]
    assert [name for name in never if name in best and best[name][1] == "copy"] == []
    assert not sharded.similarity.work_ids(), "a process searching shards holds no index"


def test_a_work_registered_or_withdrawn_elsewhere_reaches_its_shard_within_a_round(
    services: Services, sharded: Services, shards: list[ShardServer]
) -> None:
    owner = make_owner(services, "second@example.com")
    work_id = register(services, owner, photo_jpeg("hubble_deep_field"), "hubble")
    holder = shards[work_id % 2]
    wait_until(lambda: work_id in holder.follower.engine.work_ids())
    assert work_id not in shards[1 - work_id % 2].follower.engine.work_ids()
    query = load_image(photo_jpeg("hubble_deep_field", quality=60, max_side=320), services.limits)
    best = sharded.similarity.search(query, top_k=3)[0]
    assert (best.work_id, best.decision) == (work_id, "copy")

    with unit_of_work(services.session) as session:
        services.registrar.withdraw(session, owner, work_id)
    wait_until(lambda: work_id not in holder.follower.engine.work_ids())
    assert work_id not in [m.work_id for m in sharded.similarity.search(query, top_k=3)]


def test_a_process_searching_shards_registers_with_their_prior_art_and_no_index_of_its_own(
    sharded: Services, shards: list[ShardServer], registered: dict[str, int]
) -> None:
    index_dir = sharded.settings.index_dir
    before = {path.name: path.stat().st_mtime_ns for path in index_dir.iterdir()}
    other = make_owner(sharded, "other@example.com")
    with unit_of_work(sharded.session) as session:
        upload = Upload(photo_jpeg("coffee", quality=70), "coffee-again.jpg", WorkMetadata())
        outcome = sharded.registrar.register(session, other, upload)
    assert outcome.status == "conflict"
    new_work = persisted_id(outcome.work)
    assert outcome.conflict_with in (None, registered["coffee"])
    wait_until(lambda: new_work in shards[new_work % 2].follower.engine.work_ids())
    after = {path.name: path.stat().st_mtime_ns for path in index_dir.iterdir()}
    assert after == before, "the index folder is the registering process's own, left alone"


def test_a_silent_shard_makes_search_unavailable_rather_than_partial(
    settings: Settings, shards: list[ShardServer]
) -> None:
    silent = f"http://127.0.0.1:{free_port()}"
    wiring = Services(settings.model_copy(update={"index_shards": [shards[0].url, silent]}))
    try:
        with TestClient(create_app(services=wiring)) as client:
            answer = client.post(
                "/api/v1/match", files={"file": ("q.jpg", photo_jpeg("coffee"), "image/jpeg")}
            )
        assert answer.status_code == 503
        assert answer.json()["code"] == "index_unavailable"
        assert "similarity index cannot be reached" in answer.json()["detail"]
        assert silent not in answer.text, "a shard's address is for the operator's log only"
    finally:
        wiring.close()


def test_shards_that_are_not_one_whole_set_are_refused_in_words(
    settings: Settings, shards: list[ShardServer]
) -> None:
    twice = shards[0].url.replace("127.0.0.1", "localhost")
    wiring = Services(settings.model_copy(update={"index_shards": [shards[0].url, twice]}))
    try:
        query = load_image(photo_jpeg("coffee"), wiring.limits)
        with pytest.raises(IndexUnavailable, match=r"shards \(0/2, 0/2\) are not one whole set"):
            wiring.similarity.search(query)
    finally:
        wiring.close()


def test_a_shard_refuses_what_is_not_a_search_and_keeps_answering(
    shards: list[ShardServer],
) -> None:
    url = shards[0].url
    row = bytes(HASH_BYTES)
    hostile = [
        ("hashes", {"k": "0"}, row, 400, "k must be"),
        ("hashes", {"k": "abc"}, row, 400, "k must be"),
        ("hashes", {"k": "100000"}, row, 400, "k must be"),
        ("hashes", {}, row, 400, "k must be"),
        ("hashes", {"k": "3"}, b"", 400, "whole query rows"),
        ("hashes", {"k": "3"}, row[:-1], 400, "whole query rows"),
        ("hashes", {"k": "3"}, bytes(HASH_BYTES * (MAX_QUERY_ROWS + 1)), 400, "at most"),
        ("vectors", {"k": "3"}, np.full(256, np.nan, np.float32).tobytes(), 400, "finite"),
        ("vectors", {"k": "3"}, bytes(255 * 4), 400, "whole query rows"),
        ("pixels", {"k": "3"}, row, 404, "no pixels index"),
    ]
    with httpx.Client(base_url=url) as client:
        for kind, params, body, status, detail in hostile:
            answer = client.post(f"/search/{kind}", params=params, content=body)
            assert (answer.status_code, kind, params) == (status, kind, params)
            assert detail in answer.json()["detail"]
        assert client.get("/search/hashes").status_code == 405
        good = client.post("/search/hashes", params={"k": "2"}, content=row * 3)
        assert good.status_code == 200
        assert good.headers["X-Copymark-Shard"] == "0/2"
        assert len(good.content) == 3 * 2 * (4 + 8)
        health = client.get("/health").json()
        assert health["shard"] == "0/2"
        assert health["works"] == len(shards[0].follower.engine.work_ids())


def test_a_shard_starts_from_its_own_snapshot_and_the_works_since(
    services: Services,
    settings: Settings,
    registered: dict[str, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    shard = ShardSelection(1, 2)
    with unit_of_work(services.session) as session:
        snapshot = build_snapshot(session, services.similarity_at, services.evidence_blobs, shard)
        # Newer, and of the whole index: not the one a shard starts from.
        build_snapshot(session, services.similarity_at, services.evidence_blobs)
    odd = {work_id for work_id in registered.values() if shard.holds(work_id)}
    assert (snapshot.shard, snapshot.works) == ("1/2", len(odd))
    owner = make_owner(services, "later@example.com")
    since = {register(services, owner, random_png(seed), f"later-{seed}") for seed in (21, 22)}
    with caplog.at_level(logging.INFO, logger="registry.snapshots"):
        server = ShardServer(settings, shard)
    try:
        started = f"index started from snapshot {persisted_id(snapshot)} (shard 1/2): {len(odd)}"
        assert started in caplog.text
        assert server.follower.engine.work_ids() == odd | {w for w in since if shard.holds(w)}
    finally:
        server.stop()


@pytest.mark.pages_on_sqlite
def test_copymark_index_shard_serves_the_match_command(
    settings: Settings, registered: dict[str, int], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "COPYMARK_HOME": str(settings.home),
        "COPYMARK_DATABASE_URL": settings.resolved_database_url,
        "COPYMARK_ENVIRONMENT": "test",
        "COPYMARK_MODELS_DIR": str(settings.models_dir),
    }
    refused = subprocess.run(  # noqa: PLW1510 - the exit status is asserted
        cli("index", "shard", "2/2"), env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1
    assert "shard 2 of 2: a shard is numbered 0 to one less than the count" in refused.stderr
    database = make_engine(settings.resolved_database_url)
    command.downgrade(alembic_config(database), "0035")
    behind = subprocess.run(  # noqa: PLW1510 - the exit status is asserted
        cli("index", "shard", "0/1"), env=env, capture_output=True, text=True, timeout=120
    )
    migrate(database)
    database.dispose()
    assert behind.returncode == 1
    assert "the database's schema is older than this code: run `copymark init`" in (
        " ".join(behind.stderr.split())
    )

    port = free_port()
    shard = subprocess.Popen(
        cli("index", "shard", "0/1", "--port", str(port)),
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout_s=120)
        query = tmp_path / "coffee-small.jpg"
        query.write_bytes(photo_jpeg("coffee", quality=55, max_side=300))
        matched = match_through(port, query, env)
        assert matched.returncode == 0, matched.stderr
        assert f"copy      {query}: work {registered['coffee']} " in matched.stderr

        shard.terminate()
        _, started = shard.communicate(timeout=30)
        assert f"index shard 0/1: {len(registered)} works, answering on" in started
        unreachable = match_through(port, query, env)
        assert unreachable.returncode == 1
        assert "error: the similarity index cannot be reached; try again shortly" in (
            unreachable.stderr
        )
        assert "Traceback" not in unreachable.stderr
    finally:
        shard.kill()
        shard.communicate()


def match_through(port: int, query: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`copymark match QUERY` in a process searching the one shard on `port`."""
    return subprocess.run(  # noqa: PLW1510 - the exit status is asserted
        cli("match", str(query)),
        env=env | {"COPYMARK_INDEX_SHARDS": f'["http://127.0.0.1:{port}"]'},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def crawl_to_the_end(
    client: TestClient, headers: dict[str, str], seeds: list[str]
) -> dict[str, Any]:
    started = client.post(
        "/api/v1/crawls",
        headers=headers,
        json={"seeds": seeds, "max_pages": 3, "allow_hosts": ["127.0.0.1"]},
    )
    assert started.status_code == 202, started.text
    job_url = f"/api/v1/crawls/{started.json()['id']}"
    wait_until(
        lambda: client.get(job_url, headers=headers).json()["status"] in {"finished", "failed"},
        timeout_s=120,
    )
    return dict(client.get(job_url, headers=headers).json())


def _held(shards: list[ShardServer], work: int) -> bool:
    return work in shards[work % 2].follower.engine.work_ids()


@pytest.mark.usefixtures("services")
def test_a_crawl_that_meets_a_silent_shard_fails_in_words_and_raises_no_alert(
    settings: Settings,
) -> None:
    shards = [ShardServer(settings, ShardSelection(shard, 2)) for shard in range(2)]
    wiring = Services(
        settings.model_copy(
            update={"index_shards": [s.url for s in shards], "crawl_allow_hosts": ["127.0.0.1"]}
        )
    )
    app = create_app(services=wiring)
    app.state.monitor = wiring.monitor(
        screenshots=lambda _guard: NoScreenshots("not needed by this test"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    try:
        with TestClient(app) as client, LoopbackSite(copies_of_originals()) as site:
            alice = make_account(client, "alice@example.com", roles=["creator", "rights_holder"])
            for name in ORIGINALS:
                response = client.post(
                    "/api/v1/works",
                    headers=alice.headers,
                    files={"file": (f"{name}.jpg", photo_jpeg(name))},
                )
                assert response.status_code == 201, response.text
                work = int(response.json()["work_id"])
                wait_until(partial(_held, shards, work))
            seeds = gallery_seeds(site)
            first = crawl_to_the_end(client, alice.headers, seeds)
            alerts = client.get("/api/v1/alerts", headers=alice.headers).json()
            shards[1].stop()
            second = crawl_to_the_end(client, alice.headers, seeds)
            alerts_after = client.get("/api/v1/alerts", headers=alice.headers).json()
        assert first["status"] == "finished", first
        assert alerts, "with every shard answering, the site's copies raise alerts"
        # Not "finished" with nothing found: the images were never checked against every work.
        assert second["status"] == "failed", second
        assert "similarity index cannot be reached" in second["error"]
        assert alerts_after == alerts
    finally:
        wiring.close()
        shards[0].stop()
