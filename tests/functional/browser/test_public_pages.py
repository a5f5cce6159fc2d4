"""The pages anyone sees before signing in, at each screen size and in each language."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from frontend.services import Services
from tests.functional.browser.journey import Viewing, snap
from tests.functional.browser.test_journeys import seed_works


def test_a_visitor_reads_the_public_pages(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services
) -> None:
    seed_works(services, ("coffee", "astronaut"))
    journey_page.goto("/")
    sign_in = "登录" if viewing.language == "zh" else "Sign in"
    assert journey_page.get_by_role("link", name=sign_in, exact=True).is_visible()
    snap(journey_page, journey_shots, "registry")
    journey_page.goto("/login")
    snap(journey_page, journey_shots, "sign-in")
    journey_page.goto("/signup")
    snap(journey_page, journey_shots, "sign-up")
    journey_page.goto("/log")
    assert journey_page.locator("#tree-size").inner_text() == "2"
    snap(journey_page, journey_shots, "attestation-log")
