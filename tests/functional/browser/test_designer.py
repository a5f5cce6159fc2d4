"""The designer's journeys in headless Chromium, at desktop and phone width, in English and
Chinese: a bulk upload with a refused file and a conflict, editing and withdrawing a work, a
contract written in the form and consented to by a co-creator, and an offer published."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from frontend.services import Services
from registry.accounts.service import create_user
from registry.models import Role, User, utcnow
from registry.schemas import WorkMetadata
from registry.service import Registered, Upload
from similarity.engine import SimilarityEngine
from tests.factories import photo_jpeg
from tests.functional.browser.journey import Viewing, snap

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def make_user(services: Services, email: str) -> User:
    with services.session() as session:
        user = create_user(
            session, email=email, password=PASSWORD, roles={Role.CREATOR, Role.RIGHTS_HOLDER}
        )
        user.email_verified_at = utcnow()
        session.add(user)
        session.commit()
        session.refresh(user)
        return user


def register(services: Services, owner: User, name: str, title: str) -> int:
    with services.session() as session:
        outcome = services.registrar.register(
            session, owner, Upload(photo_jpeg(name), f"{name}.jpg", WorkMetadata(title=title))
        )
        session.commit()
        assert isinstance(outcome, Registered)
        assert outcome.work.id is not None
        return outcome.work.id


def sign_in(page: Page, email: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")


def words(viewing: Viewing, english: str, chinese: str) -> str:
    return chinese if viewing.language == "zh" else english


def test_a_designer_drops_a_batch_with_a_refused_file_and_a_conflict(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    page = journey_page
    register(services, make_user(services, "earlier@example.com"), "coffee", "Coffee")
    make_user(services, "designer@example.com")
    sign_in(page, "designer@example.com")
    page.goto("/works")
    expect(page.locator("#empty-state")).to_be_visible()
    snap(page, journey_shots, "01-empty")
    transfer = page.evaluate_handle(
        """([rocket, copy]) => {
            const bytes = (encoded) => Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes(rocket)], 'rocket.jpg', {type: 'image/jpeg'}));
            const pdf = {type: 'application/pdf'};
            transfer.items.add(new File(['%PDF-1.7 brief'], 'brief.pdf', pdf));
            transfer.items.add(new File([bytes(copy)], 'my-coffee.jpg', {type: 'image/jpeg'}));
            return transfer;
        }""",
        [
            base64.b64encode(photo_jpeg("rocket")).decode(),
            base64.b64encode(photo_jpeg("coffee", quality=70)).decode(),
        ],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    results = page.locator("#results li")
    expect(results.and_(page.locator(":not(.pending)"))).to_have_count(3, timeout=120_000)
    expect(page.locator("#results li[data-status=registered]")).to_have_count(1)
    expect(page.locator("#results li[data-status=conflict] .result-mark")).to_have_text("⚠")
    expect(page.locator("#results li[data-status=refused]")).to_contain_text(
        words(viewing, "This file is a PDF, not an image.", "这个文件是 PDF，不是图片。")
    )
    snap(page, journey_shots, "02-results")

    page.locator("#results li[data-status=conflict] a").click()
    bar = page.locator(".conflict-panel .scorebar")
    assert bar.bounding_box()["height"] > 0  # type: ignore[index]
    snap(page, journey_shots, "03-conflict")
    page.fill(".conflict-answer textarea", "Shot in my own kitchen in 2024.")
    page.click(".conflict-answer button[value=not_a_copy]")
    expect(page.locator(".conflict-answered")).to_contain_text("Shot in my own kitchen in 2024.")
    snap(page, journey_shots, "04-answered")


def test_a_designer_edits_a_work_then_withdraws_it(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    page = journey_page
    work_id = register(services, make_user(services, "designer@example.com"), "rocket", "Rocket")
    sign_in(page, "designer@example.com")
    page.goto(f"/works/{work_id}")
    page.click(f"a[href='/works/{work_id}/edit']")
    snap(page, journey_shots, "01-edit")
    page.fill("#title", "Rocket at dawn")
    page.fill("#description", "Launch pad, 5 a.m.")
    page.fill("#creators", "Dana, Li Wei")
    page.fill("#tags", "space, launch")
    page.select_option("#visibility", "private")
    page.click("#edit-work button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Rocket at dawn")
    expect(page.locator(".flash")).to_be_visible()
    snap(page, journey_shots, "02-saved")
    page.click(f"a[href='/works/{work_id}/withdraw']")
    snap(page, journey_shots, "03-confirm")
    page.click("#confirm-withdraw")
    expect(page.locator("#work-status")).to_have_text(words(viewing, "withdrawn", "已撤回"))
    snap(page, journey_shots, "04-withdrawn")


def test_a_contract_is_written_consented_to_by_a_co_creator_and_offered(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    # Contracts never compare images: a hash-only engine spares loading the CNN.
    services.similarity = SimilarityEngine(services.settings.index_dir, None, lambda _id: None)
    page = journey_page
    work_id = register(services, make_user(services, "dana@example.com"), "astronaut", "Orbit")
    make_user(services, "li@example.com")
    sign_in(page, "dana@example.com")
    page.goto(f"/works/{work_id}/licensing")
    page.click("#write-contract")
    page.fill("#party-share-0", "70")
    page.fill("#party-email-1", "li@example.com")
    page.fill("#party-share-1", "20")
    expect(page.locator("#problem-parties")).to_contain_text("90%")
    page.fill("#party-share-1", "30")
    page.fill("#package-id-0", "pack-100")
    page.fill("#package-fee-0", "250.00")
    page.fill("#package-units-0", "100")
    page.fill("#territories", "US, CN")
    page.fill("#term-months", "24")
    expect(page.locator("#problem-parties")).to_have_text("")
    # 100 units at $20 with an 8% royalty: $160, split 70/30.
    expect(page.locator("#split-table tbody tr")).to_have_count(2)
    expect(page.locator("#split-table tbody")).to_contain_text("$112.00")
    snap(page, journey_shots, "01-contract-form")
    with page.expect_navigation():
        page.click("#propose")
    page.click("#consent")
    snap(page, journey_shots, "02-owner-consented")

    sign_in(page, "li@example.com")
    page.goto("/consents")
    snap(page, journey_shots, "03-inbox")
    page.locator(".consent-item a").first.click()
    expect(page.locator(".split-table").first).to_contain_text("$48.00")
    snap(page, journey_shots, "04-terms")
    page.click("#consent")
    expect(page.locator("#active-note")).to_be_visible()
    snap(page, journey_shots, "05-active")

    sign_in(page, "dana@example.com")
    page.goto(f"/works/{work_id}/licensing")
    page.select_option("#sale-type", "wholesale")
    page.click("#publish-offer button[type=submit]")
    expect(page.locator(".offer-card")).to_have_count(1)
    snap(page, journey_shots, "06-offer-published")
    page.click(".withdraw-offer button")
    expect(page.locator(".offer-card")).to_have_count(0)
