"""User journeys through the pages in headless Chromium, with a full-page screenshot of each."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from skimage import data as skimage_data

from frontend.services import Services
from registry.accounts.service import create_user
from registry.models import Role, Work
from registry.schemas import WorkMetadata
from registry.service import Registered, Upload
from tests.factories import photo_jpeg

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def seed_works(services: Services, names: tuple[str, ...]) -> list[Work]:
    """Register bundled photos for a designer straight through the registrar."""
    with services.session() as session:
        owner = create_user(
            session, email="seed@example.com", password=PASSWORD, roles={Role.CREATOR}
        )
        outcomes = services.registrar.register_batch(
            session,
            owner,
            [Upload(photo_jpeg(name), name, WorkMetadata(title=name.title())) for name in names],
        )
        session.commit()
    return [outcome.work for outcome in outcomes if isinstance(outcome, Registered)]


def pasted_copy(name: str) -> bytes:
    """The photo shrunk and pasted onto an unrelated picture, as copies are often found."""
    camera = skimage_data.camera()  # type: ignore[no-untyped-call]
    background = Image.fromarray(camera).convert("RGB").resize((800, 600))
    original = Image.open(io.BytesIO(photo_jpeg(name)))
    background.paste(
        original.resize((original.width * 7 // 10, original.height * 7 // 10)), (200, 120)
    )
    buffer = io.BytesIO()
    background.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def snapshot(page: Page, path: Path) -> None:
    """A full-page screenshot once every image on the page has loaded."""
    page.wait_for_function("() => Array.from(document.images).every((image) => image.complete)")
    page.screenshot(path=path, full_page=True)


def test_designer_signs_up_uploads_three_images_and_verifies_a_certificate(
    page: Page, tmp_path: Path, screenshots: Path
) -> None:
    page.goto("/signup")
    page.fill("#email", "designer@example.com")
    page.fill("#password", PASSWORD)
    page.select_option("#roles", "creator")
    page.screenshot(path=screenshots / "signup.png", full_page=True)
    page.click("button[type=submit]")
    # Sign-up answers alike for a new and a taken address, so the person then signs in.
    expect(page.locator(".flash")).to_contain_text("sign in with the password you just chose")
    expect(page.locator("#email")).to_have_value("designer@example.com")
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url("/works")

    files = []
    for name in ("astronaut", "coffee", "rocket"):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(photo_jpeg(name))
        files.append(path)
    page.set_input_files("#files", files)
    # Files upload one after another, each fingerprinted on arrival: give them time.
    expect(page.locator("#results li[data-status=registered]")).to_have_count(3, timeout=60_000)
    page.screenshot(path=screenshots / "upload-done.png", full_page=True)
    page.reload()
    expect(page.locator(".grid .card")).to_have_count(3)
    snapshot(page, screenshots / "my-works.png")

    page.locator(".grid .card").first.click()
    expect(page.locator("#server-check")).to_have_text("proof verifies")
    page.click("#check-in-browser")
    expect(page.locator("#browser-check")).to_contain_text("✓ valid")
    snapshot(page, screenshots / "work.png")

    page.click("text=Public verification page")
    expect(page.locator("h1 .badge.valid")).to_have_text("proof verifies")
    snapshot(page, screenshots / "verify.png")


def test_find_copies_by_dropping_an_image_outlines_the_work(
    page: Page, services: Services, screenshots: Path
) -> None:
    coffee, _, _ = seed_works(services, ("coffee", "rocket", "astronaut"))
    page.goto("/find")
    page.screenshot(path=screenshots / "find-empty.png", full_page=True)
    transfer = page.evaluate_handle(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'found-online.jpg', {type: 'image/jpeg'}));
            return transfer;
        }""",
        base64.b64encode(pasted_copy("coffee")).decode(),
    )
    with page.expect_navigation():
        page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    expect(page.locator("#decision")).to_have_attribute("data-decision", "copy")
    best = page.locator(f'article.match[data-work-id="{coffee.id}"]')
    expect(best.locator(".badge.verified")).to_be_visible()
    region = best.locator("polygon.region")
    expect(region).to_be_visible()
    box = region.bounding_box()
    image_box = best.locator(".overlay img").bounding_box()
    assert box is not None
    assert image_box is not None
    # The work fills about half the pasted picture's width, right of its left edge.
    assert 0.35 < box["width"] / image_box["width"] < 0.7
    assert box["x"] > image_box["x"] + 0.15 * image_box["width"]
    snapshot(page, screenshots / "find-copies.png")


def test_log_page_draws_the_tree_and_checks_a_pasted_certificate(
    page: Page, services: Services, screenshots: Path
) -> None:
    works = seed_works(
        services, ("coffee", "rocket", "astronaut", "chelsea", "immunohistochemistry")
    )
    page.goto("/log")
    expect(page.locator("#merkle rect.leaf")).to_have_count(len(works))
    expect(page.locator("#merkle circle.root")).to_have_count(1)
    expect(page.locator("#growth circle.latest")).to_be_visible()

    certificate = page.request.get(f"/api/v1/verify/{works[0].id}").json()
    page.fill("#certificate-json", json.dumps(certificate))
    page.click("#certificate-form button[type=submit]")
    expect(page.locator("#certificate-result")).to_contain_text("✓ Valid")
    page.screenshot(path=screenshots / "log.png", full_page=True)

    certificate["log_index"] = works[1].log_index
    page.fill("#certificate-json", json.dumps(certificate))
    page.click("#certificate-form button[type=submit]")
    expect(page.locator("#certificate-result")).to_contain_text("✗ Not valid")


def test_an_unknown_work_shows_a_readable_error_page(page: Page, screenshots: Path) -> None:
    response = page.goto("/verify/4242")
    assert response is not None
    assert response.status == 404
    expect(page.locator(".problem .message")).to_have_text("work 4242 not found")
    page.screenshot(path=screenshots / "error-404.png", full_page=True)
