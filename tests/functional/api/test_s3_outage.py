"""While the S3 server is down a registration is refused with a 503 and leaves nothing behind.

The S3 server (SeaweedFS on loopback) is stopped with SIGKILL, since it ignores SIGTERM, and
started again on the same ports and folders. Uploads during the outage answer 503 with a code a
client can retry on, and write no work; once the server is back the same upload registers, and
its blob is there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.servers import SeaweedS3
from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.log.models import LogLeaf
from registry.models import Work
from tests.factories import make_account, random_png

pytestmark = [pytest.mark.s3, pytest.mark.slow, pytest.mark.faults]


@pytest.fixture
def settings(settings: Settings, s3_blob_url: str) -> Settings:
    return settings.model_copy(update={"blob_url": s3_blob_url})


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def rows(services: Services, table: type[Work] | type[LogLeaf]) -> int:
    with services.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_an_upload_during_an_s3_outage_is_refused_whole_and_succeeds_after(
    client: TestClient, services: Services, s3_server: SeaweedS3
) -> None:
    alice = make_account(client, "alice@example.com")
    image = random_png(11)
    leaves_before = rows(services, LogLeaf)
    s3_server.halt()
    try:
        refused = client.post(
            "/api/v1/works", headers=alice.headers, files={"file": ("w.png", image)}
        )
    finally:
        s3_server.resume()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "storage_unavailable"
    assert "try again" in refused.json()["detail"]
    assert rows(services, Work) == 0
    assert rows(services, LogLeaf) == leaves_before

    accepted = client.post("/api/v1/works", headers=alice.headers, files={"file": ("w.png", image)})
    assert accepted.status_code == 201, accepted.text
    digest = accepted.json()["sha256"]
    assert services.blobs.exists(digest)
    assert services.blobs.get(digest) == image
    assert rows(services, Work) == 1
    assert rows(services, LogLeaf) == leaves_before + 1
