"""My works: one file at a time answers its result line; a work is edited, withdrawn, and a
prior-art conflict on it is answered."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from frontend.services import Services
from registry.models import PriorArtConflict, Work, WorkStatus
from registry.notifications.models import Notification
from tests.factories import Account, photo_jpeg
from tests.functional.pages.test_pages import sign_in

pytestmark = pytest.mark.pages_on_sqlite


def upload(client: TestClient, token: str, name: str, data: bytes, language: str = "en") -> str:
    """Upload one file, the page asked for in `language` (the switcher's choice)."""
    response = client.post(
        f"/works/upload?lang={language.split('-', maxsplit=1)[0]}",
        data={"csrf_token": token, "visibility": "public"},
        files={"file": (name, data, "application/octet-stream")},
        headers={"accept-language": language},
    )
    assert response.status_code == 200, response.text
    return response.text


def test_a_new_account_sees_the_empty_state(client: TestClient, alice: Account) -> None:
    sign_in(client, alice)
    page = client.get("/works").text
    assert 'id="empty-state"' in page
    assert 'id="drop"' in page


def test_a_pdf_is_refused_in_a_sentence_in_each_language(
    client: TestClient, alice: Account
) -> None:
    token = sign_in(client, alice)
    pdf = b"%PDF-1.7\n1 0 obj << >> endobj\n"
    english = upload(client, token, "brief.pdf", pdf)
    assert 'data-status="refused"' in english
    assert "This file is a PDF, not an image." in english
    chinese = upload(client, token, "brief.pdf", pdf, "zh-CN")
    assert "这个文件是 PDF，不是图片。" in chinese


def test_a_registered_image_answers_its_line_and_joins_the_list(
    client: TestClient, alice: Account
) -> None:
    token = sign_in(client, alice)
    line = upload(client, token, "coffee.jpg", photo_jpeg("coffee"))
    assert 'data-status="registered"' in line
    work_id = int(re.search(r'data-work-id="(\d+)"', line).group(1))  # type: ignore[union-attr]
    assert f'href="/works/{work_id}"' in client.get("/works").text
    again = upload(client, token, "coffee-again.jpg", photo_jpeg("coffee"))
    assert 'data-status="duplicate"' in again


def test_another_owners_copy_is_a_conflict_that_is_answered(
    client: TestClient, services: Services, alice: Account, bob: Account
) -> None:
    upload(client, sign_in(client, alice), "coffee.jpg", photo_jpeg("coffee"))
    client.cookies.clear()
    token = sign_in(client, bob)
    line = upload(client, token, "mine.jpg", photo_jpeg("coffee")[:-2] + b"\xff\xd9")
    assert 'data-status="conflict"' in line
    work_id = int(re.search(r'data-work-id="(\d+)"', line).group(1))  # type: ignore[union-attr]
    page = client.get(f"/works/{work_id}").text
    conflict_id = int(re.search(r'id="conflict-(\d+)"', page).group(1))  # type: ignore[union-attr]
    refused = client.post(
        f"/works/{work_id}/conflicts/{conflict_id}",
        data={"csrf_token": token, "answer": "claimed", "note": ""},
    )
    assert refused.status_code == 422
    answered = client.post(
        f"/works/{work_id}/conflicts/{conflict_id}",
        data={"csrf_token": token, "answer": "claimed", "note": "I drew it in 2019."},
    )
    assert answered.status_code == 200
    assert "I drew it in 2019." in answered.text
    with services.session() as session:
        conflict = session.get(PriorArtConflict, conflict_id)
        assert conflict is not None
        assert conflict.resolution == "claimed"
        told = session.exec(select(Notification).where(Notification.user_id == alice.user_id))
        assert [row.kind for row in told] == ["ownership_claim"]


def test_the_owner_edits_then_withdraws_a_work(
    client: TestClient, services: Services, alice: Account
) -> None:
    token = sign_in(client, alice)
    line = upload(client, token, "coffee.jpg", photo_jpeg("coffee"))
    work_id = int(re.search(r'data-work-id="(\d+)"', line).group(1))  # type: ignore[union-attr]
    blank = client.post(f"/works/{work_id}/edit", data={"csrf_token": token, "title": " "})
    assert blank.status_code == 422
    assert "A work needs a title" in blank.text
    saved = client.post(
        f"/works/{work_id}/edit",
        data={
            "csrf_token": token,
            "title": "Morning coffee",
            "description": "Shot at dawn.",
            "creators": "Alice, Ana",
            "tags": "coffee, morning",
            "visibility": "private",
        },
    )
    assert "Your changes are saved." in saved.text
    assert "Alice, Ana" in saved.text
    assert "confirm-withdraw" in client.get(f"/works/{work_id}/withdraw").text
    withdrawn = client.post(
        f"/works/{work_id}/withdraw", data={"csrf_token": token, "confirm": "yes"}
    )
    assert "This work is withdrawn" in withdrawn.text
    with services.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        assert (work.title, work.tags, work.status) == (
            "Morning coffee",
            ["coffee", "morning"],
            WorkStatus.WITHDRAWN,
        )
