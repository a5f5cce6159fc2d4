"""Certificates a person shows and checks, the notification bell and inbox, monitoring set-up."""

from __future__ import annotations

import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from frontend.services import Services
from registry.models import User
from registry.notifications.service import notify
from tests.factories import Account, make_account, random_png
from tests.functional.pages.test_pages import assert_error_page, register, sign_in

pytestmark = pytest.mark.pages_on_sqlite


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def test_the_pdf_names_the_address_the_app_was_reached_at(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, random_png(1), title="锦鲤 in the pond")
    document = client.get(
        f"/works/{work_id}/certificate.pdf", headers={**alice.headers, "host": "registry.test:9123"}
    ).content
    text = pdf_text(document)
    assert f"http://registry.test:9123/verify/{work_id}" in text
    assert "127.0.0.1:8000" not in text
    assert "锦鲤 in the pond" in text
    assert re.search(rf"CM-{work_id:06d}-\d{{8}}", text)


def test_the_pdf_speaks_chinese_to_a_chinese_reader(client: TestClient, alice: Account) -> None:
    work_id = register(client, alice, random_png(2), title="Koi")
    document = client.get(f"/works/{work_id}/certificate.pdf?lang=zh", headers=alice.headers)
    text = pdf_text(document.content)
    assert "登记证书" in text
    assert "年" in text  # the registration time as a Chinese reader writes dates


def test_a_certificate_pdf_uploaded_to_the_check_passes_every_step(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, random_png(3), title="Koi")
    document = client.get(f"/works/{work_id}/certificate.pdf", headers=alice.headers).content
    page = client.post(
        "/verify", files={"certificate_file": ("cert.pdf", document, "application/pdf")}
    )
    assert page.status_code == 200
    assert "This certificate is valid." in page.text
    assert page.text.count('class="passed"') == 5
    assert f'href="/verify/{work_id}"' in page.text


def test_a_tampered_certificate_fails_at_the_step_it_breaks(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, random_png(4), title="Koi")
    certificate = client.get(f"/api/v1/verify/{work_id}").json()
    certificate["tree_head"]["root_hash"] = "0" * 64
    page = client.post("/verify", data={"certificate_text": json.dumps(certificate)}).text
    assert "This certificate does not verify." in page
    assert re.search(r'class="failed" data-step="signature"', page)
    assert "tree head signature does not verify" in page


def test_the_check_tells_a_chinese_reader_what_each_step_found(
    client: TestClient, alice: Account
) -> None:
    work_id = register(client, alice, random_png(6), title="Koi")
    certificate = client.get(f"/api/v1/verify/{work_id}").json()
    page = client.post("/verify?lang=zh", data={"certificate_text": json.dumps(certificate)}).text
    assert "个叶子的树头中的第" in page
    assert "有相同的根" in page
    assert "leaves" not in page
    assert "sibling hashes" not in page
    certificate["tree_head"]["root_hash"] = "0" * 64
    page = client.post("/verify?lang=zh", data={"certificate_text": json.dumps(certificate)}).text
    assert "树头签名验证不通过" in page
    assert "tree head signature does not verify" not in page


def test_a_file_that_is_no_certificate_is_refused_in_words(client: TestClient) -> None:
    assert_error_page(
        client.post("/verify", files={"certificate_file": ("x.pdf", b"%PDF-1.7 junk")}),
        422,
        "not a readable PDF",
    )
    assert_error_page(client.post("/verify", data={"certificate_text": "{"}), 422, "not JSON")
    assert_error_page(client.post("/verify", data={}), 422, "choose a certificate file")


def test_the_work_verify_page_shows_each_step(client: TestClient, alice: Account) -> None:
    work_id = register(client, alice, random_png(5), title="Koi")
    page = client.get(f"/verify/{work_id}").text
    assert page.count('class="passed"') == 5
    assert "This log published that tree head" in page
    assert f"http://testserver/verify/{work_id}" in page


def test_the_bell_counts_unread_notifications_and_the_inbox_marks_them_read(
    client: TestClient, alice: Account, services: Services
) -> None:
    with services.session() as session:
        owner = session.get(User, alice.user_id)
        assert owner is not None
        first = notify(session, owner, "monitoring.alert", "Copy found", "Body", {"alert_id": 7})
        notify(session, owner, "license_grant_active", "Licence taken", "Body", {"work_id": 3})
        session.commit()
    token = sign_in(client, alice)
    page = client.get("/works").text
    assert re.search(r'id="bell">.*?<span class="count">2', page)
    inbox = client.get("/notifications").text
    assert "Copy found" in inbox
    assert "Licence taken" in inbox
    opened = client.post(
        f"/notifications/{first.id}/open", data={"csrf_token": token}, follow_redirects=False
    )
    assert opened.headers["location"] == "/alerts/7"
    assert re.search(r'id="bell">.*?<span class="count">1', client.get("/works").text)
    client.post("/notifications/read-all", data={"csrf_token": token})
    assert 'class="count"' not in client.get("/works").text


def test_another_users_notification_cannot_be_marked(
    client: TestClient, alice: Account, bob: Account, services: Services
) -> None:
    with services.session() as session:
        owner = session.get(User, alice.user_id)
        assert owner is not None
        mine = notify(session, owner, "x.y", "Private", "Body")
        session.commit()
    token = sign_in(client, bob)
    response = client.post(f"/notifications/{mine.id}/read", data={"csrf_token": token})
    assert_error_page(response, 404, "not found")


def test_a_rights_holder_sets_up_a_watch_from_the_page(client: TestClient) -> None:
    holder = make_account(client, "holder@example.com", roles=["rights_holder"])
    token = sign_in(client, holder)
    response = client.post(
        "/monitoring/watches",
        data={
            "csrf_token": token,
            "seeds": "shop.example.com\nhttps://blog.example.org/gallery",
            "max_pages": "40",
            "interval_s": str(24 * 3600),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    (watch,) = client.get("/api/v1/watches", headers=holder.headers).json()
    assert watch["seeds"] == ["https://shop.example.com/", "https://blog.example.org/gallery"]
    assert (watch["max_pages"], watch["interval_s"]) == (40, 24 * 3600)
    page = client.get("/monitoring").text
    assert "https://shop.example.com/" in page
    assert "Every day" in page


def test_a_crawl_started_from_the_page_shows_its_progress_page(client: TestClient) -> None:
    holder = make_account(client, "holder@example.com", roles=["rights_holder"])
    token = sign_in(client, holder)
    response = client.post(
        "/monitoring/crawls",
        data={"csrf_token": token, "seeds": "https://198.51.100.7/", "max_pages": "5"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    progress = client.get(response.headers["location"]).text
    assert 'data-source="/api/v1/crawls/' in progress
    assert 'data-field="pages_fetched"' in progress


def test_a_designer_without_the_monitoring_role_is_told_why(
    client: TestClient, alice: Account
) -> None:
    token = sign_in(client, alice)
    response = client.post(
        "/monitoring/watches", data={"csrf_token": token, "seeds": "shop.example.com"}
    )
    assert_error_page(response, 403, "monitoring the web is for the")
