"""Crawl jobs, watches, licensed domains and alerts through the JSON API, as owner and stranger."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.monitoring.evidence import MANIFEST_NAME, verify_bundle
from registry.monitoring.screenshots import NoScreenshots
from similarity.crawl.politeness import HostPoliteness
from tests.factories import Account, make_account, photo_jpeg
from tests.sites import LoopbackSite
from tests.unit.registry.monitoring.support import copies_of_originals


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"crawl_allow_hosts": ["127.0.0.1"]})


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = create_app(services=services)
    app.state.monitor = services.monitor(
        screenshots=lambda _guard: NoScreenshots("not needed by this test"),
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def alice(client: TestClient) -> Account:
    return make_account(client, "alice@example.com", roles=["creator", "rights_holder"])


@pytest.fixture
def bob(client: TestClient) -> Account:
    return make_account(client, "bob@example.com", roles=["creator", "rights_holder"])


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    with LoopbackSite(copies_of_originals()) as served:
        yield served


def register(client: TestClient, account: Account, name: str) -> int:
    response = client.post(
        "/api/v1/works", headers=account.headers, files={"file": (f"{name}.jpg", photo_jpeg(name))}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["work_id"])


def crawl_to_the_end(
    client: TestClient, account: Account, seeds: list[str], max_pages: int = 2
) -> dict[str, Any]:
    started = client.post(
        "/api/v1/crawls",
        headers=account.headers,
        json={"seeds": seeds, "max_pages": max_pages, "allow_hosts": ["127.0.0.1"]},
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/crawls/{job_id}", headers=account.headers).json()
        if job["status"] in {"finished", "failed"}:
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"crawl {job_id} did not finish")


@pytest.fixture
def alerted(client: TestClient, alice: Account, site: LoopbackSite) -> list[dict[str, Any]]:
    """Alice registered two photos and crawled a site with their copies."""
    register(client, alice, "astronaut")
    register(client, alice, "coffee")
    job = crawl_to_the_end(client, alice, [site.url("/gallery/img"), site.url("/gallery/meta")])
    assert job["status"] == "finished", job
    groups = client.get("/api/v1/alerts", headers=alice.headers).json()
    return [alert for group in groups for alert in group["alerts"]]


def test_a_crawl_reports_progress_and_raises_alerts(
    client: TestClient, alice: Account, site: LoopbackSite
) -> None:
    register(client, alice, "astronaut")
    job = crawl_to_the_end(client, alice, [site.url("/gallery/img")], max_pages=1)
    assert job["pages_fetched"] == 1
    assert job["images_checked"] >= 4
    assert job["alerts"] == 1


def test_alerts_are_grouped_by_domain(
    client: TestClient, alice: Account, alerted: list[dict[str, Any]]
) -> None:
    groups = client.get("/api/v1/alerts", headers=alice.headers).json()
    assert [group["domain"] for group in groups] == ["127.0.0.1"]
    assert len(alerted) == 2


def test_an_alert_lists_its_sightings_on_every_page(
    client: TestClient, alice: Account, alerted: list[dict[str, Any]]
) -> None:
    detail = client.get(f"/api/v1/alerts/{alerted[0]['id']}", headers=alice.headers).json()
    pages = {sighting["page_url"].rsplit("/", 1)[-1] for sighting in detail["sightings"]}
    assert pages == {"img", "meta"}


def test_the_evidence_zip_verifies(
    client: TestClient, alice: Account, alerted: list[dict[str, Any]], services: Services
) -> None:
    response = client.get(f"/api/v1/alerts/{alerted[0]['id']}/evidence.zip", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert verify_bundle(response.content, services.signer.public_key).valid
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert MANIFEST_NAME in archive.namelist()


def test_triage_moves_an_alert_along_its_life_cycle(
    client: TestClient, alice: Account, alerted: list[dict[str, Any]]
) -> None:
    url = f"/api/v1/alerts/{alerted[0]['id']}"
    assert client.patch(url, headers=alice.headers, json={"status": "confirmed"}).status_code == 200
    assert client.get(url, headers=alice.headers).json()["status"] == "confirmed"
    refused = client.patch(url, headers=alice.headers, json={"status": "new"})
    assert refused.status_code == 409


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/evidence.zip", None),
        ("PATCH", "", {"status": "dismissed"}),
    ],
)
def test_another_owners_alert_is_not_found(
    client: TestClient,
    bob: Account,
    alerted: list[dict[str, Any]],
    *,
    method: str,
    suffix: str,
    body: dict[str, str] | None,
) -> None:
    url = f"/api/v1/alerts/{alerted[0]['id']}{suffix}"
    response = client.request(method, url, headers=bob.headers, json=body)
    assert response.status_code == 404
    assert client.get("/api/v1/alerts", headers=bob.headers).json() == []


def test_another_owners_crawl_is_not_found(
    client: TestClient, alice: Account, bob: Account, site: LoopbackSite
) -> None:
    job = crawl_to_the_end(client, alice, [site.url("/unrelated")])
    assert client.get(f"/api/v1/crawls/{job['id']}", headers=bob.headers).status_code == 404


def test_a_host_the_operator_did_not_open_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/v1/crawls",
        headers=alice.headers,
        json={"seeds": ["http://10.0.0.1/"], "allow_hosts": ["10.0.0.1"]},
    )
    assert response.status_code == 403


def test_a_seed_that_is_not_a_web_url_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/v1/crawls", headers=alice.headers, json={"seeds": ["file:///etc/passwd"]}
    )
    assert response.status_code == 422


def test_a_licensed_domain_is_listed_and_removed(client: TestClient, alice: Account) -> None:
    work_id = register(client, alice, "chelsea")
    url = f"/api/v1/works/{work_id}/licensed-domains"
    added = client.post(url, headers=alice.headers, json={"domain": "Shop.Example."})
    assert added.status_code == 201, added.text
    assert [entry["domain"] for entry in client.get(url, headers=alice.headers).json()] == [
        "shop.example"
    ]
    assert client.delete(f"{url}/shop.example", headers=alice.headers).status_code == 204
    assert client.get(url, headers=alice.headers).json() == []


def test_a_unicode_licensed_domain_is_kept_as_its_canonical_host(
    client: TestClient, services: Services, alice: Account
) -> None:
    work_id = register(client, alice, "chelsea")
    url = f"/api/v1/works/{work_id}/licensed-domains"
    added = client.post(url, headers=alice.headers, json={"domain": "Bücher.Example."})
    assert added.status_code == 201, added.text
    assert added.json()["domain"] == "xn--bcher-kva.example"
    crawler = services.monitor()
    for page in ("https://shop.bücher.example/koi", "https://xn--bcher-kva.example/"):
        assert crawler.licensed(work_id, page), page
    assert not crawler.licensed(work_id, "https://bucher.example/")
    assert client.delete(f"{url}/bücher.example", headers=alice.headers).status_code == 204
    assert client.get(url, headers=alice.headers).json() == []


@pytest.mark.parametrize("domain", ["https://shop.example/", "shop.example:8443", "a..example"])
def test_a_licensed_domain_must_be_a_host_alone(
    client: TestClient, alice: Account, domain: str
) -> None:
    work_id = register(client, alice, "chelsea")
    response = client.post(
        f"/api/v1/works/{work_id}/licensed-domains", headers=alice.headers, json={"domain": domain}
    )
    assert response.status_code == 422
    assert "is not a domain name" in response.json()["detail"]


def test_another_owners_work_takes_no_licensed_domain(
    client: TestClient, alice: Account, bob: Account
) -> None:
    work_id = register(client, alice, "chelsea")
    response = client.post(
        f"/api/v1/works/{work_id}/licensed-domains",
        headers=bob.headers,
        json={"domain": "bob.example"},
    )
    assert response.status_code == 404


def test_watches_are_created_and_listed_per_owner(
    client: TestClient, alice: Account, bob: Account
) -> None:
    created = client.post(
        "/api/v1/watches",
        headers=alice.headers,
        json={"seeds": ["https://shop.example/"], "interval_s": 86400},
    )
    assert created.status_code == 201, created.text
    assert [w["id"] for w in client.get("/api/v1/watches", headers=alice.headers).json()] == [
        created.json()["id"]
    ]
    assert client.get("/api/v1/watches", headers=bob.headers).json() == []


def test_a_watch_interval_below_an_hour_is_refused(client: TestClient, alice: Account) -> None:
    response = client.post(
        "/api/v1/watches",
        headers=alice.headers,
        json={"seeds": ["https://shop.example/"], "interval_s": 60},
    )
    assert response.status_code == 422


def test_a_refused_seed_fails_the_crawl_and_says_why(client: TestClient, alice: Account) -> None:
    job = crawl_to_the_end(client, alice, ["http://10.0.0.1/admin"])
    assert job["status"] == "failed"
    assert job["pages_fetched"] == 0
    assert job["seed_issues"] == [
        {
            "url": "http://10.0.0.1/admin",
            "kind": "refused",
            "message": job["seed_issues"][0]["message"],
        }
    ]
    assert "http://10.0.0.1/admin refused: 10.0.0.1 is in non-public range" in job["error"]


def test_each_refused_seed_is_named_beside_the_pages_crawled(
    client: TestClient, alice: Account, site: LoopbackSite
) -> None:
    job = crawl_to_the_end(
        client, alice, [site.url("/unrelated"), "http://169.254.169.254/latest/meta-data/"], 2
    )
    assert job["status"] == "finished", job
    assert job["error"] is None
    assert job["pages_fetched"] == 1
    assert [(issue["url"], issue["kind"]) for issue in job["seed_issues"]] == [
        ("http://169.254.169.254/latest/meta-data/", "refused")
    ]


def test_an_account_without_a_monitoring_role_may_not_crawl_or_watch(client: TestClient) -> None:
    brand = make_account(client, "brand@example.com", roles=["brand"])
    for url, body in [
        ("/api/v1/crawls", {"seeds": ["https://example.com/"]}),
        ("/api/v1/watches", {"seeds": ["https://example.com/"], "interval_s": 86400}),
    ]:
        answer = client.post(url, headers=brand.headers, json=body)
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "monitoring_forbidden"
        assert "rights_holder" in answer.json()["detail"]
    assert client.get("/api/v1/crawls", headers=brand.headers).json() == []


def test_crawls_beyond_the_daily_quota_answer_429_with_retry_after(
    client: TestClient, services: Services, alice: Account
) -> None:
    services.settings = services.settings.model_copy(update={"crawls_per_day": 2})
    for _ in range(2):
        crawl_to_the_end(client, alice, ["http://10.0.0.1/"])
    answer = client.post(
        "/api/v1/crawls", headers=alice.headers, json={"seeds": ["http://10.0.0.1/"]}
    )
    assert answer.status_code == 429, answer.text
    assert answer.json()["code"] == "crawl_quota_exceeded"
    assert "2 crawls in the last 24 hours" in answer.json()["detail"]
    assert 0 < int(answer.headers["retry-after"]) <= 24 * 3600
