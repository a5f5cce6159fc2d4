"""Paged lists in headless Chromium: a designer with more works than a page turns to the next
page of My works and back, and a brand pages through the marketplace, at each screen size and
language."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from frontend.pages.works import WORKS_PAGE_SIZE
from frontend.services import Services
from registry.models import Work, persisted_id
from tests.factories import random_png
from tests.functional.browser.journey import Viewing, snap
from tests.functional.browser.test_designer import make_user, sign_in, words

pytestmark = pytest.mark.browser

TITLES = ("锦鲤池塘", "Crane over the river at dawn, a very long title that has to wrap", "Heron")


def shelf_of_works(services: Services, email: str, count: int) -> list[int]:
    """`count` public works of a new designer, each with a picture of its own, oldest first."""
    owner = make_user(services, email)
    with services.session() as session:
        works = []
        for number in range(count):
            picture = random_png(number, side=64)
            works.append(
                Work(
                    owner_id=persisted_id(owner),
                    title=f"{TITLES[number % len(TITLES)]} {number}",
                    tags=["study"],
                    sha256=services.blobs.put(picture),
                    mime_type="image/png",
                    width=64,
                    height=64,
                    byte_size=len(picture),
                )
            )
        session.add_all(works)
        session.commit()
        return [persisted_id(work) for work in works]


def every_picture_shown(page: Page) -> None:
    """Scroll each lazily loaded thumbnail into view, as a reader would, so that it loads."""
    for picture in page.locator(".card img").all():
        picture.scroll_into_view_if_needed()


def test_a_designer_pages_through_their_works(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    ids = shelf_of_works(services, "pager@example.com", WORKS_PAGE_SIZE + 6)
    sign_in(journey_page, "pager@example.com")
    journey_page.goto("/works")
    expect(journey_page.locator(".work-card")).to_have_count(WORKS_PAGE_SIZE)
    expect(journey_page.locator("#drop")).to_be_visible()
    every_picture_shown(journey_page)
    snap(journey_page, journey_shots, "first-page")

    journey_page.get_by_role("link", name=words(viewing, "Next page", "下一页")).click()
    expect(journey_page.locator(".work-card")).to_have_count(6)
    expect(journey_page.locator(".work-card").first).to_have_attribute("href", f"/works/{ids[5]}")
    expect(journey_page.get_by_role("status").filter(has_text="30")).to_be_visible()
    every_picture_shown(journey_page)
    snap(journey_page, journey_shots, "second-page")

    journey_page.get_by_role("link", name=words(viewing, "Page 1", "第 1 页")).click()
    expect(journey_page.locator(".work-card").first).to_have_attribute("href", f"/works/{ids[-1]}")

    journey_page.goto("/works?page=7")
    expect(journey_page.get_by_role("alert")).to_contain_text(
        words(viewing, "There is no page 7", "没有第 7 页")
    )
    snap(journey_page, journey_shots, "past-the-last-page")


def test_a_visitor_pages_through_the_marketplace(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    shelf_of_works(services, "seller@example.com", 3 * 24 + 2)
    journey_page.goto("/?tags=study&page=2")
    expect(journey_page.locator(".market-card")).to_have_count(24)
    every_picture_shown(journey_page)
    snap(journey_page, journey_shots, "marketplace-page-2")
    journey_page.get_by_role("link", name=words(viewing, "Page 4", "第 4 页")).click()
    expect(journey_page.locator(".market-card")).to_have_count(2)
    every_picture_shown(journey_page)
    snap(journey_page, journey_shots, "marketplace-last-page")
