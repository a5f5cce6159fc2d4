"""One error contract: the JSON API answers {detail, code}, pages answer the error page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Account


def test_a_log_error_answers_json_with_its_code(client: TestClient) -> None:
    answer = client.get("/api/v1/log/proofs/inclusion", params={"index": 0, "tree_size": 999999})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["code"] == "tree_size_invalid"
    assert "999999" in answer.json()["detail"]


def test_a_licensing_error_answers_json_with_its_kind(client: TestClient, alice: Account) -> None:
    answer = client.get("/api/v1/grants/424242", headers=alice.headers)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    assert answer.json()["detail"]


def test_request_validation_names_the_field(client: TestClient) -> None:
    answer = client.get("/api/v1/log/leaves/minus-one")
    assert answer.status_code == 422
    assert answer.json()["code"] == "request_invalid"
    assert "index" in answer.json()["detail"]


def test_a_domain_error_on_a_page_answers_the_error_page(client: TestClient) -> None:
    answer = client.get("/verify/424242")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "424242" in answer.text or "not found" in answer.text.lower()


def test_a_bad_path_parameter_on_a_page_answers_the_error_page(client: TestClient) -> None:
    answer = client.get("/works/not-a-number")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "work_id" in answer.text
