"""Server-rendered pages: find copies, work page, log page, and readable error pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from frontend.services import Services
from similarity.matcher import Match
from tests.factories import PASSWORD, Account, photo_jpeg, random_png

pytestmark = pytest.mark.pages_on_sqlite


def register(client: TestClient, account: Account, data: bytes, **form: str) -> int:
    response = client.post(
        "/api/v1/works", headers=account.headers, files={"file": ("w.jpg", data)}, data=form
    )
    assert response.status_code == 201, response.text
    return int(response.json()["work_id"])


def sign_in(client: TestClient, account: Account) -> str:
    """Sign in through the page; returns the CSRF token the pages embed."""
    response = client.post(
        "/login", data={"email": account.email, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/works").text)
    assert token is not None
    return token.group(1)


def assert_error_page(response: object, status: int, text: str) -> None:
    assert getattr(response, "status_code", None) == status
    assert getattr(response, "headers", {})["content-type"].startswith("text/html")
    body = getattr(response, "text", "")
    assert text in body
    assert '{"detail"' not in body


def test_an_unknown_work_answers_a_readable_404_page(client: TestClient) -> None:
    assert_error_page(client.get("/verify/9999"), 404, "work 9999 not found")


def test_a_malformed_path_answers_a_readable_422_page(client: TestClient) -> None:
    assert_error_page(client.get("/verify/not-a-number"), 422, "work_id")


def test_a_bad_api_key_on_a_page_answers_a_readable_401_page(client: TestClient) -> None:
    response = client.get("/log", headers={"Authorization": "Basic abc"})
    assert_error_page(response, 401, "Bearer")


def test_a_form_post_without_csrf_answers_a_readable_403_page(
    client: TestClient, alice: Account
) -> None:
    sign_in(client, alice)
    response = client.post("/find", files={"file": ("q.jpg", photo_jpeg("coffee"))})
    assert_error_page(response, 403, "CSRF")


def test_find_copies_shows_the_copied_work_with_its_region(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, photo_jpeg("coffee", quality=95), title="Coffee cup")
    register(client, alice, photo_jpeg("rocket"))
    response = client.post(
        "/find", files={"file": ("found.jpg", photo_jpeg("coffee", quality=40, max_side=400))}
    )
    assert response.status_code == 200
    assert 'data-decision="copy"' in response.text
    assert f"Copy found: this image copies “Coffee cup” (work #{work_id})" in response.text
    assert f'<article class="match is-copy" data-work-id="{work_id}" data-verdict="copy">' in (
        response.text
    )
    assert re.search(r'<polygon class="region" points="[-0-9., ]+">', response.text)
    assert 'viewBox="0 0 400 ' in response.text


def test_find_copies_of_an_unrelated_image_says_no_match(
    client: TestClient, alice: Account
) -> None:
    register(client, alice, photo_jpeg("coffee"))
    response = client.post("/find", files={"file": ("q.png", random_png(7))})
    assert response.status_code == 200
    assert 'data-decision="no_match"' in response.text
    assert "is-copy" not in response.text


def test_find_copies_tells_a_chinese_reader_why_an_image_cannot_be_read(
    client: TestClient,
) -> None:
    trailing = random_png(8) + b"junk"
    response = client.post("/find?lang=zh", files={"file": ("q.png", trailing)})
    assert response.status_code == 422
    assert "无法用这张图片搜索：PNG 文件在结尾之后还有 4 个多余字节" in response.text
    assert "unexpected bytes" not in response.text
    scripted = random_png(8) + b"<script>alert(1)</script>"
    response = client.post("/find?lang=zh", files={"file": ("q.png", scripted)})
    assert "PNG 文件中嵌有 HTML 或脚本（&lt;script...）" in response.text
    archive = client.post("/find?lang=zh", files={"file": ("q.zip", b"PK\x03\x04 zipped")})
    assert "不是受支持的图片：ZIP 压缩包" in archive.text


def test_find_copies_shows_an_unverified_look_alike_as_a_possible_match(
    client: TestClient, alice: Account, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    work_id = register(client, alice, photo_jpeg("coffee"), title="Coffee cup")
    # Close in the embedding, far in the hashes, not verified: the clip-art false copies.
    look_alike = Match(work_id, 0.31, False, None, p_copy=0.62, hash_distance=104,
                       embedding_margin=0.43)  # fmt: skip
    monkeypatch.setattr(services.similarity, "search", lambda *_args, **_kwargs: [look_alike])
    response = client.post("/find", files={"file": ("q.png", random_png(3))})
    assert response.status_code == 200
    assert 'data-decision="possible"' in response.text
    assert f"Possible match, not verified: “Coffee cup” (work #{work_id})" in response.text
    assert "Copy found" not in response.text
    assert "is-copy" not in response.text
    assert "possible match, not verified</span>" in response.text
    assert "p(copy) 0.6200" in response.text
    assert "PDQ) 104 of 256 bits apart" in response.text
    assert "<polygon" not in response.text


def test_find_copies_refuses_a_non_image_by_name_on_the_form(client: TestClient) -> None:
    response = client.post("/find", files={"file": ("q.jpg", b"%PDF-1.7 hello")})
    assert_error_page(response, 422, "PDF")
    assert 'id="find"' in response.text


def test_find_copies_hides_other_owners_private_works(
    client: TestClient, alice: Account, bob: Account
) -> None:
    register(client, alice, photo_jpeg("chelsea"), visibility="private")
    response = client.post("/find", files={"file": ("q.jpg", photo_jpeg("chelsea", quality=60))})
    assert 'data-decision="no_match"' in response.text
    assert "data-work-id" not in response.text


def test_a_withdrawn_work_leaves_the_gallery_and_its_verify_page_but_for_its_owner(
    client: TestClient, alice: Account, bob: Account
) -> None:
    work_id = register(client, alice, random_png(7), title="Carp in winter")
    assert "Carp in winter" in client.get("/").text
    assert client.delete(f"/api/v1/works/{work_id}", headers=alice.headers).status_code == 200
    assert "Carp in winter" not in client.get("/").text
    for stranger in (bob.headers, {}):
        assert_error_page(client.get(f"/verify/{work_id}", headers=stranger), 404, "not found")
        assert client.get(f"/works/{work_id}/thumbnail", headers=stranger).status_code == 404
    page = client.get(f"/verify/{work_id}", headers=alice.headers)
    assert page.status_code == 200
    assert "Carp in winter" in page.text


def test_work_page_shows_a_prior_art_conflict_side_by_side(
    client: TestClient, alice: Account, bob: Account
) -> None:
    earlier = register(client, alice, photo_jpeg("astronaut", quality=95))
    later = register(client, bob, photo_jpeg("astronaut", quality=70))
    sign_in(client, bob)
    page = client.get(f"/works/{later}").text
    assert f'data-earlier-work-id="{earlier}"' in page
    assert f'src="/works/{later}/thumbnail"' in page
    assert f'src="/works/{earlier}/thumbnail"' in page


def test_work_page_hides_a_private_earlier_work_in_a_conflict(
    client: TestClient, alice: Account, bob: Account
) -> None:
    earlier = register(client, alice, photo_jpeg("astronaut", quality=95), visibility="private")
    later = register(client, bob, photo_jpeg("astronaut", quality=70))
    sign_in(client, bob)
    page = client.get(f"/works/{later}").text
    assert "data-earlier-work-id" not in page
    assert f"#{earlier}" not in page
    assert f"/works/{earlier}/" not in page
    assert "private work" in page


def test_work_page_offers_certificate_downloads_and_a_passing_check(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, photo_jpeg("rocket"))
    sign_in(client, alice)
    page = client.get(f"/works/{work_id}").text
    assert f'href="/api/v1/works/{work_id}/certificate" download=' in page
    assert f'href="/works/{work_id}/certificate.pdf" download=' in page
    assert '<span class="badge valid" id="server-check">proof verifies</span>' in page


def test_log_page_draws_every_leaf_of_a_small_tree(client: TestClient, alice: Account) -> None:
    for seed in range(3):
        register(client, alice, random_png(seed))
    page = client.get("/log").text
    assert page.count('<rect class="leaf ev-registration"') == 3
    assert page.count('class="root"') == 1
    assert '<polyline points="' in page


def test_log_page_of_an_empty_log_says_so(client: TestClient) -> None:
    page = client.get("/log").text
    assert "The log is empty." in page
    assert 'id="merkle"' not in page


def test_unknown_url_shows_the_error_page_to_browsers_and_json_to_clients(
    client: TestClient,
) -> None:
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is nothing at /no/such/page" in page.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.json() == {
        "detail": "There is nothing at /api/v1/no-such-thing: check the address.",
        "code": "not_found",
    }


def test_a_wrong_method_names_the_methods_accepted(client: TestClient) -> None:
    api = client.put("/api/v1/sessions")
    assert api.status_code == 405
    detail = api.json()["detail"]
    assert detail.startswith("PUT is not accepted at /api/v1/sessions; it accepts ")
    assert "POST" in detail
