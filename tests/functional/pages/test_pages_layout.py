"""The site's frame: sign-in returns to the page that asked (never another site), error pages
know who is signed in and speak their language, the language follows the user, a forgotten
password is replaced by mail, and account emails are written in the recipient's language."""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import Message
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from frontend.pages.return_to import DEFAULT_LANDING
from tests.factories import Account, make_account
from tests.functional.pages.test_pages import PASSWORD, sign_in
from tests.support.receivers import SmtpInbox, verification_token

pytestmark = pytest.mark.pages_on_sqlite

NEW_PASSWORD = "a fresh and long passphrase"
_RESET_TOKEN = re.compile(r"/password/reset\?token=([A-Za-z0-9_-]+)")


def _text(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode()


def _subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def _reset_token(message: Message) -> str:
    found = _RESET_TOKEN.search(_text(message))
    assert found is not None
    return found.group(1)


def test_a_page_that_needs_sign_in_sends_there_and_sign_in_comes_back(
    client: TestClient, alice: Account
) -> None:
    asked = client.get("/account", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/login?next=%2Faccount"
    form = client.get(asked.headers["location"]).text
    assert 'action="/login?next=%2Faccount"' in form
    signed_in = client.post(
        "/login?next=%2Faccount",
        data={"email": alice.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/account"


@pytest.mark.parametrize(
    "page",
    [
        "/alerts?status=new",
        "/alerts/1",
        "/monitoring",
        "/cases",
        "/cases/1",
        "/profile/legal",
        "/disputes",
        "/money",
        "/licenses",
        "/licenses/1",
        "/notifications",
        "/consents",
        "/works/1/contract",
    ],
)
def test_every_signed_in_page_sends_a_visitor_to_sign_in_and_back(
    client: TestClient, page: str
) -> None:
    asked = client.get(page, follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/login?next={quote(page, safe='')}"


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example",
        "https://evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "/%09/evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_sends_anyone_to_another_site(
    client: TestClient, alice: Account, hostile: str
) -> None:
    form = client.get("/login", params={"next": hostile}).text
    assert re.findall(r'<form class="panel narrow" method="post" action="([^"]*)"', form) == [
        "/login"
    ]
    signed_in = client.post(
        "/login",
        params={"next": hostile},
        data={"email": alice.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == DEFAULT_LANDING


def test_the_header_sign_in_link_asks_to_come_back_to_the_page(client: TestClient) -> None:
    page = client.get("/find?lang=en").text
    assert 'class="sign-in" href="/login?next=%2Ffind%3Flang%3Den"' in page
    assert 'aria-controls="site-menu"' in page
    assert 'aria-expanded="false"' in page


def test_an_error_page_shows_who_is_signed_in(client: TestClient, alice: Account) -> None:
    sign_in(client, alice)
    missing = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert f"You are signed in as {alice.email}" in missing.text
    assert "Sign out" in missing.text
    assert 'class="sign-in"' not in missing.text


def test_an_error_page_for_a_visitor_offers_sign_in(client: TestClient) -> None:
    missing = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "You are signed in" not in missing.text
    assert 'class="sign-in" href="/login?next=%2Fno-such-page"' in missing.text


def test_an_error_page_speaks_chinese_framework_sentences_included(client: TestClient) -> None:
    missing = client.get("/no-such-page", headers={"Accept": "text/html", "Accept-Language": "zh"})
    assert missing.status_code == 404
    assert '<html lang="zh-CN">' in missing.text
    assert "未找到" in missing.text
    assert "/no-such-page 处没有内容：请检查网址。" in missing.text
    api = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "zh"})
    assert api.json()["detail"] == "There is nothing at /api/v1/no-such-thing: check the address."


def test_the_language_a_user_switches_to_follows_them_to_another_browser(
    client: TestClient, alice: Account
) -> None:
    sign_in(client, alice)
    assert "您的账户" in client.get("/account?lang=zh", headers={"Accept-Language": "en"}).text
    # Another browser: no cookie, asking for English; signed in, the pages are Chinese.
    other = TestClient(client.app)
    sign_in(other, alice)
    page = other.get("/account", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in page.text
    assert "您的账户" in page.text
    # The switcher there wins for that browser, and is what the user keeps from now on.
    assert "Your account" in other.get("/account?lang=en").text
    client.cookies.delete("lang")
    assert "Your account" in client.get("/account", headers={"Accept-Language": "zh"}).text


def test_a_chinese_sign_up_gets_its_verification_email_in_chinese(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    answer = mailing_client.post(
        "/signup",
        data={"email": "li@example.com", "password": PASSWORD, "role": "creator"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    assert answer.status_code == 200
    message = inbox.wait_for_message_to("li@example.com")
    assert _subject(message) == "Copymark：确认您的邮箱地址"
    assert "请在两天内打开此链接" in _text(message)
    assert verification_token(message)


def test_a_forgotten_password_is_replaced_through_the_mailed_link(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    email = "wen@example.com"
    mailing_client.post(
        "/signup",
        data={"email": email, "password": PASSWORD, "role": "creator"},
        headers={"Accept-Language": "en"},
    )
    inbox.wait_for_message_to(email)  # the verification link
    forgot = mailing_client.get("/login").text
    assert 'href="/password/forgot"' in forgot
    asked = mailing_client.post("/password/forgot", data={"email": email})
    unknown = mailing_client.post("/password/forgot", data={"email": "nobody@example.com"})
    assert asked.status_code == unknown.status_code == 200
    assert asked.text.replace(email, "EMAIL") == unknown.text.replace("nobody@example.com", "EMAIL")
    message = inbox.wait_for_message_to(email, 2)
    assert message["Subject"] == "Copymark: reset your password"
    token = _reset_token(message)
    form = mailing_client.get("/password/reset", params={"token": token})
    assert form.status_code == 200
    assert 'name="password"' in form.text
    weak = mailing_client.post("/password/reset", data={"token": token, "password": "short"})
    assert weak.status_code == 422
    changed = mailing_client.post(
        "/password/reset", data={"token": token, "password": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert "Your password is changed" in changed.text
    again = mailing_client.get("/password/reset", params={"token": token})
    assert again.status_code == 400
    assert "not valid" in again.text
    old = mailing_client.post(
        "/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert old.status_code == 401
    new = mailing_client.post(
        "/login", data={"email": email, "password": NEW_PASSWORD}, follow_redirects=False
    )
    assert new.status_code == 303
    assert inbox.to("nobody@example.com") == []


def test_a_reset_link_is_mailed_in_the_language_the_user_chose(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    email = "fang@example.com"
    mailing_client.post(
        "/signup",
        data={"email": email, "password": PASSWORD, "role": "creator"},
        headers={"Accept-Language": "zh"},
    )
    inbox.wait_for_message_to(email)
    mailing_client.post(
        "/password/forgot", data={"email": email}, headers={"Accept-Language": "en"}
    )
    message = inbox.wait_for_message_to(email, 2)
    assert "如需设置新密码，请在一小时内打开此链接" in _text(message)
    assert _reset_token(message)


def test_forgot_password_refuses_a_form_posted_from_another_site(
    mailing_client: TestClient,
) -> None:
    answer = mailing_client.post(
        "/password/forgot",
        data={"email": "x@example.com"},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_an_account_that_never_chose_takes_the_language_it_signs_in_with(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    email = "yun@example.com"
    created = mailing_client.post(
        "/api/v1/users", json={"email": email, "password": PASSWORD, "roles": ["creator"]}
    )
    assert created.status_code == 202
    inbox.wait_for_message_to(email)  # the verification link, in English: no language yet
    signed_in = mailing_client.post(
        "/login",
        data={"email": email, "password": PASSWORD},
        headers={"Accept-Language": "zh-CN"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    mailing_client.cookies.clear()
    mailing_client.post("/password/forgot", data={"email": email})
    assert "如需设置新密码" in _text(inbox.wait_for_message_to(email, 2))


def _navigation(client: TestClient) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', client.get("/find").text, re.S)
    assert nav is not None
    return re.findall(r'<a href="([^"]+)"', nav.group(1))


@pytest.mark.parametrize(
    ("roles", "links"),
    [
        (None, ["/", "/find", "/log"]),
        (["brand"], ["/", "/licenses", "/account", "/find", "/log"]),
        (["creator"], ["/", "/works", "/alerts", "/cases", "/money", "/account", "/find", "/log"]),
        (["rights_holder"], ["/", "/alerts", "/cases", "/money", "/account", "/find", "/log"]),
        (
            ["creator", "brand"],
            [
                "/",
                "/works",
                "/licenses",
                "/alerts",
                "/cases",
                "/money",
                "/account",
                "/find",
                "/log",
            ],
        ),
    ],
)
def test_the_navigation_offers_each_role_its_own_pages(
    client: TestClient, roles: list[str] | None, links: list[str]
) -> None:
    if roles is not None:
        sign_in(client, make_account(client, "nav@example.com", roles))
    assert _navigation(client) == links
