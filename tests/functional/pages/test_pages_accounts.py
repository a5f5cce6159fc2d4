"""Account pages: sign-up that reveals no one, sign-in throttling, cross-site posts, sign-out."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from frontend.app import create_app
from frontend.services import Services
from tests.factories import Account, make_account
from tests.functional.pages.test_pages import sign_in
from tests.support.market import dns_table, proving_domains_by_table
from tests.support.receivers import SmtpInbox, verification_token

pytestmark = pytest.mark.pages_on_sqlite

PASSWORD = "correct horse battery"


def test_signup_page_answers_alike_for_a_taken_and_a_new_email(
    client: TestClient, alice: Account
) -> None:
    def signup(email: str) -> tuple[int, str]:
        answer = client.post(
            "/signup",
            data={"email": email, "password": "another long password", "role": "creator"},
            follow_redirects=False,
        )
        return answer.status_code, answer.text.replace(email, "EMAIL")

    taken, new = signup(alice.email), signup("newcomer@example.com")
    assert taken == new
    assert taken[0] == 200
    assert "sign in with the password you just chose" in taken[1]
    assert "copymark_session" not in client.cookies


def test_signup_page_refuses_a_weak_password_in_words(client: TestClient) -> None:
    answer = client.post(
        "/signup", data={"email": "ada@example.com", "password": " " * 8, "role": "creator"}
    )
    assert answer.status_code == 422
    assert "at least 10 characters" in answer.text


def page_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return client.post(
        "/login", data={"email": email, "password": password}, follow_redirects=False
    )


def csrf_of(client: TestClient) -> str:
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/works").text)
    assert token is not None
    return token.group(1)


def test_the_sign_in_page_is_throttled_with_a_reason_and_retry_after(
    client: TestClient, alice: Account
) -> None:
    for n in range(10):
        assert page_sign_in(client, alice.email, f"guess number {n}").status_code == 401
    answer = page_sign_in(client, alice.email)
    assert answer.status_code == 429
    assert answer.headers["content-type"].startswith("text/html")
    assert "Too many failed sign-ins for this account" in answer.text
    assert int(answer.headers["Retry-After"]) > 0
    assert "copymark_session" not in client.cookies


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
@pytest.mark.parametrize("form", ["/login", "/signup"])
def test_a_cross_site_post_to_a_sign_in_form_is_refused(
    client: TestClient, alice: Account, form: str, headers: dict[str, str]
) -> None:
    email = alice.email if form == "/login" else "victim@example.com"
    answer = client.post(
        form,
        data={"email": email, "password": PASSWORD, "role": "creator"},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "sent from another website" in answer.text
    assert "copymark_session" not in client.cookies
    if form == "/signup":
        assert page_sign_in(client, email).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "http://127.0.0.1:8000"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {},
    ],
)
def test_a_same_origin_or_non_browser_sign_in_is_accepted(
    client: TestClient, alice: Account, headers: dict[str, str]
) -> None:
    answer = client.post(
        "/login",
        data={"email": alice.email, "password": PASSWORD},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_sign_out_ends_this_browsers_session_only(
    client: TestClient, services: Services, alice: Account
) -> None:
    other = TestClient(create_app(services=services))
    assert page_sign_in(other, alice.email).status_code == 303
    assert page_sign_in(client, alice.email).status_code == 303
    signed_out = client.post(
        "/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    back_to_works = "/login?next=%2Fworks"
    assert client.get("/works", follow_redirects=False).headers["location"] == back_to_works
    assert other.get("/works", follow_redirects=False).status_code == 200


def test_sign_out_everywhere_ends_every_session(
    client: TestClient, services: Services, alice: Account
) -> None:
    other = TestClient(create_app(services=services))
    assert page_sign_in(other, alice.email).status_code == 303
    assert page_sign_in(client, alice.email).status_code == 303
    assert "Sign out everywhere" in client.get("/works").text
    signed_out = client.post(
        "/logout/everywhere", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    for browser in (client, other):
        answer = browser.get("/works", follow_redirects=False)
        assert answer.headers["location"] == "/login?next=%2Fworks"


def test_sign_out_everywhere_needs_the_csrf_token(client: TestClient, alice: Account) -> None:
    assert page_sign_in(client, alice.email).status_code == 303
    refused = client.post("/logout/everywhere", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert client.get("/works", follow_redirects=False).status_code == 200


def test_the_emailed_link_confirms_the_address_with_a_button(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    account = make_account(mailing_client, "ada@example.com")
    link = verification_token(inbox.wait_for_message_to("ada@example.com"))
    landing = mailing_client.get("/verify-email", params={"token": link})
    assert "Confirm my email address" in landing.text
    me = mailing_client.get("/api/v1/me", headers=account.headers).json()
    assert me["email_verified"] is False  # opening the link alone confirms nothing
    confirmed = mailing_client.post("/verify-email", data={"token": link})
    assert "ada@example.com is verified" in confirmed.text
    me = mailing_client.get("/api/v1/me", headers=account.headers).json()
    assert me["email_verified"] is True


def test_the_account_page_sends_a_new_link(mailing_client: TestClient, inbox: SmtpInbox) -> None:
    account = make_account(mailing_client, "ada@example.com")
    inbox.wait_for_message_to("ada@example.com")
    csrf = sign_in(mailing_client, account)
    page = mailing_client.get("/account")
    assert "not verified" in page.text
    throttled = mailing_client.post("/account/email-verification", data={"csrf_token": csrf})
    assert throttled.status_code == 429
    assert "less than a minute ago" in throttled.text


def test_the_account_page_verifies_an_organisation_domain(
    mailing_client: TestClient, notifying_services: Services, inbox: SmtpInbox
) -> None:
    services = proving_domains_by_table(notifying_services)
    brand = make_account(mailing_client, "buyer@brand.example", ["brand"], inbox=inbox)
    created = mailing_client.post(
        "/api/v1/organisations",
        json={"name": "Brand", "domain": "brand.example"},
        headers=brand.headers,
    )
    organisation_id = created.json()["id"]
    csrf = sign_in(mailing_client, brand)
    base = f"/account/organisations/{organisation_id}/domain-verification"
    assert "Verify this domain" in mailing_client.get("/account").text
    mailing_client.post(base, data={"csrf_token": csrf})
    page = mailing_client.get("/account").text
    record = re.search(r"<code>(copymark-verify=[A-Za-z0-9_-]+)</code>", page)
    assert record is not None
    missing = mailing_client.post(f"{base}/check", data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert "_copymark-verify.brand.example" in missing.text
    dns_table(services).records["_copymark-verify.brand.example"] = [record.group(1)]
    checked = mailing_client.post(f"{base}/check", data={"csrf_token": csrf})
    assert "The domain is verified" in checked.text
    (listed,) = mailing_client.get("/api/v1/organisations", headers=brand.headers).json()
    assert listed["domain_verified"] is True
