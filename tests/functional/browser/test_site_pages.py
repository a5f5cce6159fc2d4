"""The site's own pages in the browser, at every viewing: signing up and in (and back to the page
that asked), the account page and the phone menu, finding copies, error pages, and replacing a
forgotten password from the mailed link. Each step is snapped: it fits the screen, passes axe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from frontend.services import Services
from tests.factories import random_png
from tests.functional.browser.journey import Viewing, sideways_overflow, snap
from tests.functional.browser.test_journeys import seed_works
from tests.support.receivers import SmtpInbox

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a fresh and long passphrase"
_RESET_LINK = re.compile(r"/password/reset\?token=[A-Za-z0-9_-]+")


@pytest.fixture
def services(notifying_services: Services) -> Services:
    """The app of these journeys mails through the loopback SMTP server."""
    return notifying_services


def words(viewing: Viewing, english: str, chinese: str) -> str:
    return chinese if viewing.language == "zh" else english


def sign_up(page: Page, viewing: Viewing, email: str, shots: Path | None = None) -> None:
    page.goto("/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    if shots is not None:
        snap(page, shots, "sign-up")
    page.click("button[type=submit]")
    expect(page.locator(".flash")).to_contain_text(
        words(viewing, "sign in with the password you just chose", "请用您刚设置的密码登录")
    )


def test_a_visitor_signs_up_signs_in_and_comes_back_to_the_account_page(
    journey_page: Page, journey_shots: Path, viewing: Viewing
) -> None:
    page = journey_page
    sign_up(page, viewing, "ada@example.com", journey_shots)
    snap(page, journey_shots, "signed-up")
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    sign_in = page.get_by_role("link", name=words(viewing, "Sign in", "登录"), exact=True)
    expect(sign_in).to_be_visible()
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    snap(page, journey_shots, "sign-in")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.locator("h1")).to_have_text(words(viewing, "Your account", "您的账户"))
    snap(page, journey_shots, "account")
    toggle = page.locator(".menu-toggle")
    sign_out = page.get_by_role("button", name=words(viewing, "Sign out", "退出登录"), exact=True)
    if viewing.width < 700:
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(sign_out).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(sign_out).to_be_visible()
        snap(page, journey_shots, "menu-open")
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(toggle).to_be_focused()
        toggle.click()
    else:
        expect(toggle).to_be_hidden()
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(
        page.get_by_role("link", name=words(viewing, "Sign in", "登录"), exact=True)
    ).to_be_visible()


def test_find_copies_searches_an_image_in_the_page_language(
    journey_page: Page, journey_shots: Path, viewing: Viewing, services: Services, tmp_path: Path
) -> None:
    seed_works(services, ("coffee",))
    page = journey_page
    page.goto("/find")
    expect(page.locator("h1")).to_have_text(words(viewing, "Find copies", "查找侵权副本"))
    snap(page, journey_shots, "find")
    unrelated = tmp_path / "unrelated.png"
    unrelated.write_bytes(random_png(7))
    page.set_input_files("#file", str(unrelated))
    with page.expect_navigation():
        page.click("#search")
    expect(page.locator("#decision")).to_have_attribute("data-decision", "no_match")
    expect(page.locator("#decision h2")).to_have_text(
        words(viewing, "No registered work matches this image", "没有已登记作品与此图片匹配")
    )
    snap(page, journey_shots, "find-no-match")


def test_error_pages_speak_the_language_and_know_who_is_signed_in(
    journey_page: Page, journey_shots: Path, viewing: Viewing
) -> None:
    page = journey_page
    answer = page.goto("/no-such-page")
    assert answer is not None
    assert answer.status == 404
    expect(page.locator("h1")).to_have_text(words(viewing, "Not found", "未找到"))
    expect(page.locator(".message")).to_have_text(
        words(
            viewing,
            "There is nothing at /no-such-page: check the address.",
            "/no-such-page 处没有内容：请检查网址。",
        )
    )
    snap(page, journey_shots, "not-found")
    sign_up(page, viewing, "ben@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto("/no-such-page")
    expect(page.locator(".problem")).to_contain_text("ben@example.com")
    snap(page, journey_shots, "not-found-signed-in")


def test_a_forgotten_password_is_replaced_from_the_mailed_link(
    journey_page: Page, journey_shots: Path, viewing: Viewing, inbox: SmtpInbox
) -> None:
    page = journey_page
    email = "cleo@example.com"
    sign_up(page, viewing, email)
    inbox.wait_for_message_to(email)  # the verification link
    page.get_by_role("link", name=words(viewing, "Forgot your password?", "忘记密码？")).click()
    expect(page).to_have_url(re.compile(r"/password/forgot$"))
    page.fill("#email", email)
    snap(page, journey_shots, "forgot-password")
    page.click("main button[type=submit]")
    expect(page.locator("#reset-sent")).to_contain_text(email)
    snap(page, journey_shots, "reset-link-sent")
    mail = inbox.wait_for_message_to(email, 2)
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert words(viewing, "within an hour", "一小时内") in text
    link = _RESET_LINK.search(text)
    assert link is not None
    page.goto(link.group(0))  # the mail names the configured site; the test's runs elsewhere
    expect(page.locator("h1")).to_have_text(words(viewing, "Choose a new password", "设置新密码"))
    page.fill("#password", NEW_PASSWORD)
    snap(page, journey_shots, "reset-password")
    page.click("main button[type=submit]")
    expect(page.locator(".flash")).to_contain_text(
        words(viewing, "Your password is changed", "密码已更改")
    )
    snap(page, journey_shots, "password-changed")
    page.fill("#password", NEW_PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/works$"))


def test_without_script_the_phone_shows_the_whole_menu_and_no_menu_button(
    browser: Browser, live_url: str
) -> None:
    context = browser.new_context(
        base_url=live_url, viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = context.new_page()
    page.goto("/find")
    expect(page.locator(".menu-toggle")).to_be_hidden()
    expect(page.get_by_role("link", name="Attestation log")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert sideways_overflow(page) <= 0
    context.close()
