"""The app with COPYMARK_BLOB_URL set keeps originals and evidence in S3, and nothing on disk."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import registry.service
from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.blobs import S3BlobStore
from registry.monitoring.evidence import verify_bundle
from registry.monitoring.screenshots import NoScreenshots
from similarity.crawl.politeness import HostPoliteness
from tests.factories import make_account, photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import copies_of_originals

pytestmark = pytest.mark.s3


@pytest.fixture
def settings(settings: Settings, s3_blob_url: str) -> Settings:
    return settings.model_copy(update={"blob_url": s3_blob_url, "crawl_allow_hosts": ["127.0.0.1"]})


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services=services)
    app.state.monitor = services.monitor(
        screenshots=lambda _guard: NoScreenshots("not needed by this test"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    with TestClient(app) as test_client:
        yield test_client


def keys_under(store: S3BlobStore) -> list[str]:
    location = store.location
    listing = location.client().list_objects_v2(Bucket=location.bucket, Prefix=location.prefix)
    return [item["Key"].removeprefix(location.prefix) for item in listing.get("Contents", [])]


def test_originals_thumbnails_and_evidence_live_in_the_bucket(
    client: TestClient, services: Services
) -> None:
    alice = make_account(client, "alice@example.com", roles=["creator", "rights_holder"])
    upload = client.post(
        "/api/v1/works",
        headers=alice.headers,
        files={"file": ("astronaut.jpg", photo_jpeg("astronaut"))},
    )
    assert upload.status_code == 201, upload.text
    work = upload.json()
    assert isinstance(services.blobs, S3BlobStore)
    assert isinstance(services.evidence_blobs, S3BlobStore)
    digest = work["sha256"]
    assert keys_under(services.blobs) == [f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"]
    thumbnail = client.get(f"/works/{work['work_id']}/thumbnail", headers=alice.headers)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"

    with LoopbackSite(copies_of_originals()) as site:
        started = client.post(
            "/api/v1/crawls",
            headers=alice.headers,
            json={
                "seeds": [site.url("/gallery/img")],
                "max_pages": 1,
                "allow_hosts": ["127.0.0.1"],
            },
        )
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        job = started.json()
        while job["status"] not in {"finished", "failed"} and time.monotonic() < deadline:
            time.sleep(0.2)
            job = client.get(f"/api/v1/crawls/{job['id']}", headers=alice.headers).json()
    assert job["status"] == "finished", job
    (group,) = client.get("/api/v1/alerts", headers=alice.headers).json()
    alert = group["alerts"][0]
    bundle = client.get(f"/api/v1/alerts/{alert['id']}/evidence.zip", headers=alice.headers)
    assert bundle.status_code == 200
    assert verify_bundle(bundle.content, services.signer.public_key).valid
    assert keys_under(services.evidence_blobs)
    home = services.settings.home
    assert not [path for path in (home / "blobs").rglob("*") if path.is_file()]
    assert not [path for path in (home / "evidence").rglob("*") if path.is_file()]


def test_recovery_removes_orphans_from_the_bucket_and_keeps_referenced_blobs(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_account(client, "alice@example.com")
    work = client.post(
        "/api/v1/works", headers=alice.headers, files={"file": ("w.jpg", photo_jpeg("coffee"))}
    ).json()
    orphan = services.blobs.put(b"written by a registration whose transaction rolled back")
    time.sleep(1.1)
    monkeypatch.setattr(registry.service, "ORPHAN_BLOB_AGE_S", 1)
    with services.session() as session:
        repaired = services.registrar.recover(session)
    assert repaired["orphan_blobs_removed"] == 1
    assert not services.blobs.exists(orphan)
    assert services.blobs.exists(work["sha256"])
