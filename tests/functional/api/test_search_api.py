"""Search by image through POST /api/v1/match."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Account, photo_jpeg, random_png


def register(client: TestClient, account: Account, data: bytes, **form: str) -> int:
    response = client.post(
        "/api/v1/works", headers=account.headers, files={"file": ("w.jpg", data)}, data=form
    )
    assert response.status_code == 201, response.text
    return int(response.json()["work_id"])


def match(client: TestClient, data: bytes, account: Account | None = None) -> dict:  # type: ignore[type-arg]
    headers = account.headers if account else {}
    response = client.post("/api/v1/match", files={"file": ("q.jpg", data)}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_recompressed_copy_matches_its_work(client: TestClient, alice: Account) -> None:
    work_id = register(client, alice, photo_jpeg("coffee", quality=95))
    register(client, alice, photo_jpeg("rocket"))
    found = match(client, photo_jpeg("coffee", quality=30, max_side=300))
    assert found["decision"] == "copy"
    best = found["matches"][0]
    assert best["work_id"] == work_id
    assert best["decision"] == "copy"
    assert best["verified"] or best["p_copy"] >= 0.99


def test_an_unrelated_image_is_no_match(client: TestClient, alice: Account) -> None:
    register(client, alice, photo_jpeg("coffee"))
    found = match(client, random_png(99))
    assert found["decision"] == "no_match"
    assert all(m["score"] < 0 for m in found["matches"])
    assert all(m["decision"] == "no_match" and m["p_copy"] < 0.5 for m in found["matches"])


def test_private_works_are_hidden_from_others(
    client: TestClient, alice: Account, bob: Account
) -> None:
    work_id = register(client, alice, photo_jpeg("chelsea"), visibility="private")
    query = photo_jpeg("chelsea", quality=60)
    assert [m["work_id"] for m in match(client, query, bob)["matches"]] == []
    assert match(client, query, bob)["decision"] == "no_match"
    assert match(client, query, alice)["matches"][0]["work_id"] == work_id


def test_a_non_image_query_is_refused_by_name(client: TestClient) -> None:
    response = client.post("/api/v1/match", files={"file": ("q.jpg", b"%PDF-1.7 hello")})
    assert response.status_code == 422
    assert "PDF" in response.json()["detail"]
