"""The rights holder's alerts pages: cards by domain, the alert page, triage forms, ownership."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.models import Work
from registry.monitoring.evidence import SCREENSHOT_NAME, Screenshot, verify_bundle
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.screenshots import NoScreenshots, Screenshotter
from similarity.crawl.netguard import NetGuard
from similarity.crawl.politeness import HostPoliteness
from tests.factories import Account, make_account
from tests.functional.api.test_monitoring_api import crawl_to_the_end, register
from tests.functional.pages.test_pages import assert_error_page, sign_in
from tests.sites import LoopbackSite
from tests.support.workers import wait_for
from tests.unit.registry.monitoring.support import copies_of_originals

pytestmark = pytest.mark.pages_on_sqlite


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


def copied_and_found(client: TestClient, alice: Account) -> dict[str, Any]:
    """Alice registers a photo and crawls a page that shows a copy of it: the one alert raised."""
    register(client, alice, "astronaut")
    with LoopbackSite(copies_of_originals()) as site:
        job = crawl_to_the_end(client, alice, [site.url("/gallery/img")], max_pages=1)
    assert job["status"] == "finished", job
    groups = client.get("/api/v1/alerts", headers=alice.headers).json()
    (found,) = [alert for group in groups for alert in group["alerts"]]
    return dict(found)


@pytest.fixture
def alert(client: TestClient, alice: Account) -> dict[str, Any]:
    """Alice registered a photo and crawled a page that shows a copy of it."""
    return copied_and_found(client, alice)


def alert_status(client: TestClient, account: Account, alert_id: int) -> str:
    return str(client.get(f"/api/v1/alerts/{alert_id}", headers=account.headers).json()["status"])


def test_the_alerts_page_asks_a_visitor_to_sign_in(client: TestClient) -> None:
    response = client.get("/alerts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Falerts"


def test_the_alerts_page_shows_each_alert_as_a_card_with_a_small_preview(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, alice)
    page = client.get("/alerts").text
    card = page.split(f'id="alert-{alert["id"]}"', 1)[1].split("</article>", 1)[0]
    assert "127.0.0.1" in card
    assert f'src="/alerts/{alert["id"]}/preview.jpg"' in card
    assert f'href="/api/v1/alerts/{alert["id"]}/evidence.zip"' in card
    assert "badge alert-status new" in card
    assert f"{alert['score']:+.3f}" in card


def test_the_side_by_side_picture_is_the_evidence_png(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, alice)
    response = client.get(f"/alerts/{alert['id']}/side-by-side.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.width > picture.height


def test_the_alert_page_shows_the_picture_sightings_and_digests(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, alice)
    page = client.get(f"/alerts/{alert['id']}").text
    assert f'src="/alerts/{alert["id"]}/side-by-side.png"' in page
    assert alert["page_url"] in page
    assert alert["evidence_sha256"] in page
    assert alert["manifest_sha256"] in page
    assert f'href="/api/v1/log/leaves/{alert["log_index"]}"' in page


def test_takedown_drafts_appear_only_once_the_alert_is_confirmed(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, alice)
    unconfirmed = client.get(f"/alerts/{alert['id']}").text
    assert "Confirm this alert first" in unconfirmed
    assert "17 U.S.C. 512(c)" not in unconfirmed
    assert "侵权投诉通知书" not in unconfirmed
    assert 'class="panel notice"' not in unconfirmed
    client.post(
        f"/alerts/{alert['id']}/status",
        data={"csrf_token": token, "status": "confirmed", "back_to": "alert"},
    )
    confirmed = client.get(f"/alerts/{alert['id']}").text
    assert "Confirm this alert first" not in confirmed
    assert "17 U.S.C. 512(c)" in confirmed
    assert "侵权投诉通知书" in confirmed


def test_a_dismissed_alert_has_no_takedown_drafts(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, alice)
    client.post(f"/alerts/{alert['id']}/status", data={"csrf_token": token, "status": "dismissed"})
    assert alert_status(client, alice, alert["id"]) == "dismissed"
    assert "17 U.S.C. 512(c)" not in client.get(f"/alerts/{alert['id']}").text


def test_a_new_alert_cannot_skip_confirmation_to_takedown_sent(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, alice)
    response = client.post(
        f"/alerts/{alert['id']}/status", data={"csrf_token": token, "status": "takedown_sent"}
    )
    assert_error_page(response, 409, "cannot go from new to takedown sent")
    assert 'value="takedown_sent"' not in client.get(f"/alerts/{alert['id']}").text


def test_another_owners_alert_answers_the_404_page(
    client: TestClient, bob: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, bob)
    assert_error_page(client.get(f"/alerts/{alert['id']}"), 404, f"alert {alert['id']} not found")
    assert client.get(f"/alerts/{alert['id']}/side-by-side.png").status_code == 404
    assert alert["id"] not in [
        int(found) for found in re.findall(r'data-alert-id="(\d+)"', client.get("/alerts").text)
    ]


def test_another_owner_cannot_change_an_alerts_status(
    client: TestClient, alice: Account, bob: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, bob)
    response = client.post(
        f"/alerts/{alert['id']}/status", data={"csrf_token": token, "status": "dismissed"}
    )
    assert_error_page(response, 404, "not found")
    assert alert_status(client, alice, alert["id"]) == "new"


def test_the_status_form_moves_the_alert_on(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, alice)
    response = client.post(
        f"/alerts/{alert['id']}/status",
        data={"csrf_token": token, "status": "confirmed", "back_to": "alert"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/alerts/{alert['id']}"
    assert alert_status(client, alice, alert["id"]) == "confirmed"
    assert "badge alert-status confirmed" in client.get(f"/alerts/{alert['id']}").text


def test_the_status_form_without_csrf_is_refused(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, alice)
    response = client.post(f"/alerts/{alert['id']}/status", data={"status": "dismissed"})
    assert_error_page(response, 403, "CSRF")
    assert alert_status(client, alice, alert["id"]) == "new"


def test_an_impossible_status_step_answers_the_409_page(
    client: TestClient, alice: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, alice)
    response = client.post(
        f"/alerts/{alert['id']}/status", data={"csrf_token": token, "status": "resolved"}
    )
    assert_error_page(response, 409, "cannot go from new to resolved")


def test_hostile_urls_and_titles_are_shown_as_inert_text(
    client: TestClient, alice: Account, alert: dict[str, Any], services: Services
) -> None:
    hostile_url = "javascript:alert(document.cookie)"
    hostile_title = "<script>alert(1)</script>"
    with services.session() as session:
        stored = session.get(Alert, alert["id"])
        work = session.get(Work, alert["work_id"])
        assert stored is not None
        assert work is not None
        stored.page_url = hostile_url
        # Confirmed, so the notice drafts (which quote the URL and title) are on the page too.
        stored.status = AlertStatus.CONFIRMED
        work.title = hostile_title
        session.add_all([stored, work])
        session.commit()
    sign_in(client, alice)
    for page in (client.get("/alerts").text, client.get(f"/alerts/{alert['id']}").text):
        assert hostile_url in page
        assert f'href="{hostile_url}' not in page
        assert hostile_title not in page
        assert "&lt;script&gt;" in page


_alert_numbers = itertools.count(1)


def add_alerts(services: Services, work_id: int, count: int, **fields: Any) -> list[int]:
    """Alerts on a work as a crawl would leave them (their evidence is not needed to list them)."""
    ids = []
    with services.session() as session:
        for number in range(count):
            digest = f"{next(_alert_numbers):016x}".ljust(64, "0")
            row = Alert(
                work_id=work_id,
                image_sha256=digest,
                image_url=f"https://{fields.get('domain', 'copies.example')}/{number}.jpg",
                image_url_sha256=digest,
                page_url=f"https://{fields.get('domain', 'copies.example')}/page/{number}",
                domain=fields.get("domain", "copies.example"),
                score=0.9,
                verified=fields.get("verified", True),
                status=fields.get("status", AlertStatus.NEW),
                evidence_sha256=digest,
                manifest_sha256=digest,
                log_index=number,
            )
            session.add(row)
            session.flush()
            ids.append(int(row.id or 0))
        session.commit()
    return ids


def card_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-alert-id="(\d+)"', page)]


def test_the_inbox_filters_by_status_site_work_and_verification(
    client: TestClient, alice: Account, alert: dict[str, Any], services: Services
) -> None:
    work_id = alert["work_id"]
    elsewhere = add_alerts(services, work_id, 2, domain="shop.example", verified=False)
    dismissed = add_alerts(
        services, work_id, 1, domain="shop.example", status=AlertStatus.DISMISSED
    )
    sign_in(client, alice)
    assert set(card_ids(client.get("/alerts?site=shop.example").text)) == {*elsewhere, *dismissed}
    assert card_ids(client.get("/alerts?site=shop.example&status=dismissed").text) == dismissed
    assert set(card_ids(client.get("/alerts?verified=no").text)) == set(elsewhere)
    assert alert["id"] in card_ids(client.get(f"/alerts?work={work_id}&verified=yes").text)
    assert card_ids(client.get("/alerts?since=2999-01-01").text) == []
    assert len(card_ids(client.get("/alerts?until=2999-01-01").text)) == 4


def test_a_bad_filter_answers_a_page_that_names_it(client: TestClient, alice: Account) -> None:
    sign_in(client, alice)
    assert_error_page(client.get("/alerts?status=stolen"), 422, "status must be one of")
    assert_error_page(client.get("/alerts?since=yesterday"), 422, "since must be a date")
    assert_error_page(client.get("/alerts?work=abc"), 422, "work must be a work number")


def test_the_inbox_pages_twenty_alerts_at_a_time(
    client: TestClient, alice: Account, alert: dict[str, Any], services: Services
) -> None:
    add_alerts(services, alert["work_id"], 24)
    sign_in(client, alice)
    first = client.get("/alerts").text
    second = client.get("/alerts?page=2").text
    assert len(card_ids(first)) == 20
    assert len(card_ids(second)) == 5
    assert not set(card_ids(first)) & set(card_ids(second))
    assert 'href="/alerts?page=2"' in first


def test_bulk_confirm_moves_the_chosen_alerts_and_counts_the_rest(
    client: TestClient, alice: Account, alert: dict[str, Any], services: Services
) -> None:
    fresh = add_alerts(services, alert["work_id"], 2)
    (resolved,) = add_alerts(services, alert["work_id"], 1, status=AlertStatus.RESOLVED)
    token = sign_in(client, alice)
    response = client.post(
        "/alerts/bulk",
        data={
            "csrf_token": token,
            "status": "confirmed",
            "alert_id": [*fresh, resolved],
            "filters": "status=new&evil=1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/alerts?status=new&bulk=confirmed&changed=2&skipped=1&left={resolved}"
    )
    assert [alert_status(client, alice, alert_id) for alert_id in fresh] == ["confirmed"] * 2
    assert alert_status(client, alice, resolved) == "resolved"
    report = client.get(response.headers["location"]).text
    assert "2 alerts marked confirmed; 1 left as they were" in report
    assert f"alert {resolved} cannot go from resolved to confirmed" in report


def test_bulk_triage_tells_a_chinese_reader_why_each_alert_was_left(
    client: TestClient, alice: Account, alert: dict[str, Any], services: Services
) -> None:
    (confirmed,) = add_alerts(services, alert["work_id"], 1, status=AlertStatus.CONFIRMED)
    (resolved,) = add_alerts(services, alert["work_id"], 1, status=AlertStatus.RESOLVED)
    token = sign_in(client, alice)
    response = client.post(
        "/alerts/bulk",
        data={"csrf_token": token, "status": "confirmed", "alert_id": [confirmed, resolved, 999]},
        follow_redirects=False,
    )
    report = client.get(response.headers["location"] + "&lang=zh").text
    assert f"警报 {confirmed} 已经是“已确认”" in report
    assert f"警报 {resolved} 不能从“已解决”变为“已确认”" in report
    assert "未找到警报 999" in report
    assert "cannot go from" not in report
    forged = client.get("/alerts?bulk=confirmed&changed=0&skipped=1&left=x,-1,99999999999,0").text
    assert 'class="bulk-left"' not in forged


def test_bulk_triage_leaves_another_owners_alerts_alone(
    client: TestClient, alice: Account, bob: Account, alert: dict[str, Any]
) -> None:
    token = sign_in(client, bob)
    response = client.post(
        "/alerts/bulk",
        data={"csrf_token": token, "status": "dismissed", "alert_id": [alert["id"]]},
        follow_redirects=False,
    )
    assert response.headers["location"].endswith(f"changed=0&skipped=1&left={alert['id']}")
    assert f"alert {alert['id']} not found" in client.get(response.headers["location"]).text
    assert alert_status(client, alice, alert["id"]) == "new"


def test_the_card_preview_is_a_small_jpeg_cached_by_its_etag(
    client: TestClient, alice: Account, bob: Account, alert: dict[str, Any]
) -> None:
    sign_in(client, alice)
    original = client.get(f"/alerts/{alert['id']}/side-by-side.png")
    preview = client.get(f"/alerts/{alert['id']}/preview.jpg")
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(preview.content)).size) <= 320
    assert len(preview.content) < len(original.content)
    etag = preview.headers["etag"]
    again = client.get(f"/alerts/{alert['id']}/preview.jpg", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    sign_in(client, bob)
    assert client.get(f"/alerts/{alert['id']}/preview.jpg").status_code == 404


class GatedCamera:
    """A Screenshotter that renders a page only once `opened` is set: until then the evidence
    queue is still at work and the alert's screenshot is pending."""

    png = b"\x89PNG\r\n\x1a\n the page as rendered"

    def __init__(self) -> None:
        self.opened = threading.Event()

    def __call__(self, _guard: NetGuard) -> Screenshotter:
        return self

    async def capture(self, url: str) -> Screenshot:
        await asyncio.to_thread(self.opened.wait, 120)
        return Screenshot(self.png)

    async def close(self) -> None:
        """Nothing to release."""


def settled_alert(client: TestClient, account: Account, alert_id: int) -> dict[str, Any]:
    def fetched() -> dict[str, Any]:
        return dict(client.get(f"/api/v1/alerts/{alert_id}", headers=account.headers).json())

    wait_for(
        lambda: fetched()["screenshot_status"] != "pending", 120, f"alert {alert_id}'s screenshot"
    )
    return fetched()


def test_the_in_process_evidence_queue_takes_the_screenshot_the_pages_say_until_then(
    services: Services,
) -> None:
    camera = GatedCamera()
    app = create_app(services=services)
    app.state.monitor = services.monitor(
        screenshots=camera,
        politeness=lambda: HostPoliteness(per_host_concurrency=4, delay_s=0.0),
    )
    with TestClient(app) as client:
        try:
            alice = make_account(client, "alice@example.com", roles=["creator", "rights_holder"])
            first = copied_and_found(client, alice)
            assert first["screenshot_status"] == "pending"
            sign_in(client, alice)
            assert "screenshot of the page pending" in client.get("/alerts").text
            assert (
                "Pending: the screenshot is being taken"
                in client.get(f"/alerts/{first['id']}").text
            )
            assert "页面截图待完成" in client.get("/alerts?lang=zh").text
            assert "待完成：截图在抓取之外单独截取" in client.get(f"/alerts/{first['id']}").text
        finally:
            camera.opened.set()
        settled = settled_alert(client, alice, first["id"])
        assert settled["screenshot_status"] == "taken"
        assert settled["log_index"] > first["log_index"]
        bundle = client.get(f"/api/v1/alerts/{first['id']}/evidence.zip", headers=alice.headers)
        assert verify_bundle(bundle.content, services.signer.public_key).valid
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            assert archive.read(SCREENSHOT_NAME) == camera.png
        page = client.get(f"/alerts/{first['id']}?lang=en").text
        assert "Taken: it is in the evidence bundle" in page
        assert settled["evidence_sha256"] in page
