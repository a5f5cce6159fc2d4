"""Cases through the app: a crawl's alert confirmed, a case opened, its notice read back from a
loopback SMTP server, the public response page answered, and every refusal a 4xx in words."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from registry.monitoring.screenshots import NoScreenshots
from similarity.crawl.politeness import HostPoliteness
from tests.factories import Account, make_account
from tests.functional.api.test_monitoring_api import crawl_to_the_end, register
from tests.functional.pages.test_pages import assert_error_page, sign_in
from tests.sites import LoopbackSite
from tests.support.receivers import SmtpInbox
from tests.unit.registry.monitoring.support import copies_of_originals

PROFILE = {
    "legal_name": "Alice Example Ltd",
    "postal_address": "1 Canvas Street, London",
    "contact_email": "legal@alice.example",
}
COUNTER_NOTICE = {
    "material": "The coffee photo on our gallery page",
    "good_faith_statement": True,
    "jurisdiction_consent": True,
    "name": "Mallory Shop",
    "address": "2 Market Road, Springfield",
    "email": "mallory@shop.test",
    "signature": "Mallory Shop",
}


@pytest.fixture
def settings(settings: Settings, smtp_inbox: tuple[SmtpInbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "crawl_allow_hosts": ["127.0.0.1"],
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_inbox[1],
            "smtp_from": "Copymark <notices@copymark.test>",
        }
    )


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
def alerts(client: TestClient, alice: Account) -> list[dict[str, Any]]:
    """Alice registered two photos and crawled a page showing copies of both."""
    register(client, alice, "astronaut")
    register(client, alice, "coffee")
    with LoopbackSite(copies_of_originals()) as site:
        job = crawl_to_the_end(client, alice, [site.url("/gallery/img")], max_pages=1)
    assert job["status"] == "finished", job
    groups = client.get("/api/v1/alerts", headers=alice.headers).json()
    found = [alert for group in groups for alert in group["alerts"]]
    assert len(found) >= 2
    return found


def notices_in(inbox: SmtpInbox, count: int) -> list[Message]:
    """The messages sent to the site's contact (the inbox also gets Alice's alert emails)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [m for m in inbox.messages if m["To"] == "dmca@shop.test"]
        if len(found) >= count:
            return found
        inbox.wait_for(len(inbox.messages) + 1, timeout_s=0.2)
    return [m for m in inbox.messages if m["To"] == "dmca@shop.test"]


def confirm(client: TestClient, alice: Account, alert: dict[str, Any]) -> None:
    response = client.patch(
        f"/api/v1/alerts/{alert['id']}", json={"status": "confirmed"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text


def open_case(client: TestClient, alice: Account, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    for alert in alerts:
        confirm(client, alice, alert)
    created = client.post(
        "/api/v1/cases", json={"alert_ids": [a["id"] for a in alerts]}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def send(client: TestClient, alice: Account, case_id: int, **body: Any) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/notices",
        json={"recipients": ["dmca@shop.test"], **body},
        headers=alice.headers,
    )


@pytest.fixture
def noticed(
    client: TestClient,
    alice: Account,
    alerts: list[dict[str, Any]],
    smtp_inbox: tuple[SmtpInbox, int],
) -> tuple[dict[str, Any], str]:
    """A case on both copies whose notice went out; with the response path the notice links."""
    assert client.put("/api/v1/me/legal-profile", json=PROFILE, headers=alice.headers).is_success
    case = open_case(client, alice, alerts[:2])
    response = send(client, alice, case["id"])
    assert response.status_code == 200, response.text
    (message,) = notices_in(smtp_inbox[0], 1)
    body = message.get_payload(decode=True).decode()
    link = re.search(r"http://127\.0\.0\.1:8000(/respond/\d+/[0-9a-f]{64})\s", body)
    assert link is not None, body
    return dict(response.json()), link.group(1)


def test_a_case_goes_from_notice_to_counter_notice(
    client: TestClient, alice: Account, noticed: tuple[dict[str, Any], str]
) -> None:
    case, path = noticed
    assert case["state"] == "notice_sent"
    assert [event["action"] for event in case["events"]] == ["opened", "notice_sent"]

    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"  # the token must not leak onward
    for alert_id in case["alert_ids"]:
        assert f"{path}/side-by-side/{alert_id}.png" in page.text
        evidence = client.get(f"{path}/evidence/{alert_id}.zip")
        assert evidence.status_code == 200
        assert evidence.headers["content-type"] == "application/zip"
    assert "penalty of perjury" in page.text

    answered = client.post(f"{path}/counter-notice", data=COUNTER_NOTICE, follow_redirects=False)
    assert answered.status_code == 303
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=alice.headers).json()
    assert detail["state"] == "counter_noticed"
    assert detail["deadline_kind"] == "reinstatement"
    step = detail["events"][-1]
    assert (step["action"], step["actor"]) == ("counter_notice", "respondent")
    leaf = client.get(f"/api/v1/log/leaves/{step['log_index']}").json()
    assert leaf["event_type"] == "case_step"
    logged = json.loads(base64.b64decode(leaf["leaf_base64"]))
    assert logged["document_sha256"] == step["document_sha256"]
    assert (logged["case_id"], logged["to_state"]) == (case["id"], "counter_noticed")
    inbox = client.get("/api/v1/notifications", headers=alice.headers).json()
    assert any("Counter-notice" in item["subject"] for item in inbox)


def test_the_response_page_refuses_wrong_and_borrowed_tokens_and_replays(
    client: TestClient,
    alice: Account,
    alerts: list[dict[str, Any]],
    noticed: tuple[dict[str, Any], str],
) -> None:
    case, path = noticed
    token = path.rsplit("/", 1)[1]
    assert_error_page(client.get(f"/respond/{case['id']}/{'0' * 64}"), 404, "not valid")
    other = open_case(client, alice, alerts[2:3]) if len(alerts) > 2 else None
    borrowed_case = other["id"] if other else case["id"] + 1
    assert_error_page(client.get(f"/respond/{borrowed_case}/{token}"), 404, "not valid")
    borrowed = client.post(
        f"/api/v1/responses/{borrowed_case}/{token}/counter-notice", json=COUNTER_NOTICE
    )
    assert borrowed.status_code == 404
    assert borrowed.json()["code"] == "case_response_link_invalid"

    first = client.post(
        f"/api/v1/responses/{case['id']}/{token}/counter-notice", json=COUNTER_NOTICE
    )
    assert first.json() == {"case_id": case["id"], "state": "counter_noticed"}
    replay = client.post(f"{path}/counter-notice", data=COUNTER_NOTICE)
    assert_error_page(replay, 409, "a second answer is not taken")
    licence = client.post(
        f"/api/v1/responses/{case['id']}/{token}/licence-claim",
        json={"name": "Mallory", "email": "mallory@shop.test"},
    )
    assert licence.status_code == 409


def test_refusals_are_4xx_in_words(
    client: TestClient,
    alice: Account,
    alerts: list[dict[str, Any]],
    smtp_inbox: tuple[SmtpInbox, int],
) -> None:
    unconfirmed = client.post(
        "/api/v1/cases", json={"alert_ids": [alerts[0]["id"]]}, headers=alice.headers
    )
    assert unconfirmed.status_code == 409
    assert "not confirmed" in unconfirmed.json()["detail"]

    case = open_case(client, alice, alerts[:1])
    no_profile = send(client, alice, case["id"])
    assert no_profile.status_code == 409
    assert no_profile.json()["code"] == "case_profile_incomplete"
    assert notices_in(smtp_inbox[0], 0) == []

    illegal = client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"state": "reinstated"},
        headers=alice.headers,
    )
    assert illegal.status_code == 409
    assert "cannot go from open to reinstated" in illegal.json()["detail"]

    assert client.put("/api/v1/me/legal-profile", json=PROFILE, headers=alice.headers).is_success
    assert send(client, alice, case["id"]).status_code == 200
    twice = send(client, alice, case["id"])
    assert twice.status_code == 409
    assert twice.json()["code"] == "case_notice_already_sent"
    assert send(client, alice, case["id"], resend=True).status_code == 200
    assert len(notices_in(smtp_inbox[0], 2)) == 2

    unknown = client.get("/api/v1/cases/999", headers=alice.headers)
    assert unknown.status_code == 404


def test_the_case_pages_show_the_timeline_and_the_report(
    client: TestClient, alice: Account, noticed: tuple[dict[str, Any], str]
) -> None:
    case, _path = noticed
    token = sign_in(client, alice)
    listing = client.get("/cases").text
    assert f'href="/cases/{case["id"]}"' in listing
    assert "Median time to removal" in listing
    page = client.get(f"/cases/{case['id']}").text
    sent_step = case["events"][1]
    assert sent_step["document_sha256"] in page
    assert f'href="/api/v1/log/leaves/{sent_step["log_index"]}"' in page
    assert "Resend notice" in page
    removed = client.post(
        f"/cases/{case['id']}/transitions",
        data={"state": "resolved_removed", "csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    report = client.get("/api/v1/cases/report", headers=alice.headers).json()
    assert report["by_state"]["resolved_removed"] == 1
    assert report["removed"] == 1
    (month,) = report["by_month"]
    assert (month["opened"], month["resolved"]) == (1, 1)
    chart = client.get("/cases").text
    assert f"{month['month']}: 1 opened, 1 resolved" in chart
    assert 'class="cases-chart"' in chart
    alert_page = client.get(f"/alerts/{case['alert_ids'][0]}").text
    assert f'href="/cases/{case["id"]}"' in alert_page


@pytest.mark.parametrize(
    "path",
    [
        "/respond/99999999999999999999/" + "0" * 64,
        "/respond/-1/" + "0" * 64,
        "/respond/1/" + "f" * 5000,
        "/respond/1/%00%0d%0a",
        "/respond/1/%C3%A9",
        "/respond/1/" + "0" * 64 + "/evidence/99999999999999999999.zip",
        "/respond/1/" + "0" * 64 + "/side-by-side/1.png",
    ],
)
def test_hostile_response_links_answer_a_page_not_a_crash(client: TestClient, path: str) -> None:
    assert_error_page(client.get(path), 404, "not valid")


def test_hostile_case_requests_are_4xx(client: TestClient, alice: Account) -> None:
    huge = 99_999_999_999_999_999_999
    beyond = client.get(f"/api/v1/cases/{huge}", headers=alice.headers)
    assert beyond.status_code == 422
    assert "case_id" in beyond.json()["detail"]
    created = client.post("/api/v1/cases", json={"alert_ids": [huge]}, headers=alice.headers)
    assert created.status_code == 422
    answer = client.post(
        f"/api/v1/responses/{huge}/{'0' * 64}/counter-notice",
        json={**COUNTER_NOTICE, "material": "x" * 100_000},
    )
    assert answer.status_code == 422
    anonymous = client.post("/api/v1/cases", json={"alert_ids": [1]})
    assert anonymous.status_code == 401


def test_one_case_takes_every_confirmed_copy_on_a_site_from_the_alerts_page(
    client: TestClient, alice: Account, alerts: list[dict[str, Any]]
) -> None:
    for alert in alerts[:2]:
        confirm(client, alice, alert)
    token = sign_in(client, alice)
    listing = client.get("/alerts").text
    form = listing.split('class="open-case', 1)[1].split("</form>", 1)[0]
    offered = sorted(int(value) for value in re.findall(r'name="alert_id" value="(\d+)"', form))
    assert offered == sorted(alert["id"] for alert in alerts[:2])
    opened = client.post(
        "/cases",
        data={"alert_id": [str(value) for value in offered], "csrf_token": token},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    case = client.get(opened.headers["location"].replace("/cases/", "/api/v1/cases/"))
    assert sorted(case.json()["alert_ids"]) == offered
    assert 'class="open-case' not in client.get("/alerts").text
