"""An integer out of range anywhere in a request is a 422 that names the field, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account

BEYOND_INT64 = 2**63
BEYOND_INT32 = 2**31

# (method, URL) for every route with an integer in its path or query, each out of range.
OUT_OF_RANGE = [
    ("GET", f"/api/v1/verify/{BEYOND_INT64}"),
    ("GET", f"/api/v1/verify/{BEYOND_INT32}"),
    ("GET", f"/api/v1/works/{BEYOND_INT64}"),
    ("DELETE", f"/api/v1/works/{BEYOND_INT64}"),
    ("GET", f"/api/v1/works/{BEYOND_INT64}/certificate"),
    ("GET", f"/api/v1/works/{BEYOND_INT64}/offers"),
    ("GET", f"/api/v1/works/{BEYOND_INT64}/contract-versions"),
    ("GET", f"/api/v1/works/{BEYOND_INT64}/licensed-domains"),
    ("DELETE", f"/api/v1/works/{BEYOND_INT64}/licensed-domains/example.com"),
    ("GET", f"/api/v1/log/leaves/{BEYOND_INT64}"),
    ("GET", f"/api/v1/log/proofs/inclusion?index={BEYOND_INT64}"),
    ("GET", f"/api/v1/log/proofs/inclusion?index=0&tree_size={BEYOND_INT64}"),
    ("GET", f"/api/v1/log/proofs/consistency?old_size={BEYOND_INT64}"),
    ("GET", f"/api/v1/log/proofs/consistency?old_size=1&new_size={BEYOND_INT64}"),
    ("GET", f"/api/v1/contract-versions/{BEYOND_INT64}"),
    ("DELETE", f"/api/v1/offers/{BEYOND_INT64}"),
    ("GET", f"/api/v1/grants/{BEYOND_INT64}"),
    ("GET", f"/api/v1/grants/{BEYOND_INT64}/certificate"),
    ("GET", f"/api/v1/licenses/check?work_id={BEYOND_INT64}&domain=example.com"),
    ("GET", f"/api/v1/crawls/{BEYOND_INT64}"),
    ("GET", f"/api/v1/alerts/{BEYOND_INT64}"),
    ("GET", f"/api/v1/alerts/{BEYOND_INT64}/evidence.zip"),
    ("GET", f"/api/v1/notifications?before_id={BEYOND_INT64}"),
    ("POST", f"/api/v1/notifications/{BEYOND_INT64}/read"),
    ("DELETE", f"/api/v1/webhooks/{BEYOND_INT64}"),
    ("GET", f"/api/v1/webhooks/{BEYOND_INT64}/attempts"),
    ("DELETE", f"/api/v1/api-keys/{BEYOND_INT64}"),
]


@pytest.mark.parametrize(("method", "url"), OUT_OF_RANGE)
def test_an_out_of_range_integer_is_refused_in_words(
    client: TestClient, alice: Account, method: str, url: str
) -> None:
    answer = client.request(method, url, headers=alice.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "request_invalid"
    assert "less than or equal to" in answer.json()["detail"]


@pytest.mark.parametrize(
    "url", [f"/verify/{BEYOND_INT64}", f"/works/{BEYOND_INT64}", f"/alerts/{BEYOND_INT64}"]
)
def test_an_out_of_range_id_on_a_page_answers_the_error_page(client: TestClient, url: str) -> None:
    answer = client.get(url, headers={"accept": "text/html"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "body",
    [
        {"seeds": ["https://example.com/"], "interval_s": BEYOND_INT64},
        {"seeds": ["https://example.com/"], "max_pages": BEYOND_INT64},
    ],
)
def test_an_out_of_range_watch_is_refused_in_words(
    client: TestClient, alice: Account, body: dict[str, object]
) -> None:
    answer = client.post("/api/v1/watches", json=body, headers=alice.headers)
    assert answer.status_code == 422, answer.text
    assert "less than or equal to" in answer.json()["detail"]
