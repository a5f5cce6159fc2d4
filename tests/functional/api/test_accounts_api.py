"""Accounts through the API: sign-up that reveals no one, sign-in throttling, sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import Account, make_account
from tests.support.receivers import SmtpInbox, verification_token

PASSWORD = "correct horse battery"


def sign_up(client: TestClient, email: str, password: str = PASSWORD) -> tuple[int, dict[str, str]]:
    answer = client.post("/api/v1/users", json={"email": email, "password": password})
    return answer.status_code, answer.json()


def test_sign_up_answers_alike_for_a_taken_and_a_new_email(
    client: TestClient, alice: Account
) -> None:
    taken = sign_up(client, alice.email, "another long password")
    new = sign_up(client, "newcomer@example.com", "another long password")
    assert taken == new
    assert new[0] == 202
    assert "email" not in new[1]
    assert "already" not in new[1]["detail"].split(":")[0]
    # The taken account keeps its own password.
    kept = client.post("/api/v1/sessions", json={"email": alice.email, "password": PASSWORD})
    assert kept.status_code == 200


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("password", "at least 10 characters"),
        (" " * 8, "at least 10 characters"),
        (" " * 16, "at least 10 characters"),
        ("qwertyuiop", "commonly used"),
        ("1234567890", "commonly used"),
    ],
)
def test_sign_up_refuses_weak_passwords_in_words(
    client: TestClient, password: str, says: str
) -> None:
    status, body = sign_up(client, "ada@example.com", password)
    assert status == 422
    assert body["code"] == "password_weak"
    assert says in body["detail"]


@pytest.mark.parametrize(
    "email", ["a@@b.c", "a@example.com,b@example.com", "a@example.com b@example.com", "a@nodot"]
)
def test_sign_up_refuses_malformed_emails_in_words(client: TestClient, email: str) -> None:
    status, body = sign_up(client, email)
    assert status == 422
    assert body["code"] == "email_invalid"
    assert body["detail"].startswith("not a valid email address")


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return client.post("/api/v1/sessions", json={"email": email, "password": password})


@pytest.fixture
def strict_services(settings: Settings) -> Iterator[Services]:
    """Small sign-in budgets, so the tests reach them in a few attempts."""
    strict = settings.model_copy(
        update={"login_failures_per_account": 3, "login_failures_per_address": 5}
    )
    wiring = Services(strict)
    wiring.initialise()
    yield wiring
    wiring.close()


def client_at(services: Services, address: str) -> TestClient:
    return TestClient(create_app(services=services), client=(address, 50000))


def test_ninety_nine_wrong_passwords_then_the_right_one_is_throttled(
    client: TestClient, alice: Account
) -> None:
    answers = [sign_in(client, alice.email, f"guess number {n}").status_code for n in range(99)]
    assert answers[:10] == [401] * 10
    assert set(answers[10:]) == {429}
    right = sign_in(client, alice.email)
    assert right.status_code == 429
    assert right.json()["code"] == "too_many_requests"
    assert "Too many failed sign-ins for this account" in right.json()["detail"]
    assert "try again in 15 minutes" in right.json()["detail"]
    assert 1 <= int(right.headers["Retry-After"]) <= 15 * 60
    assert "copymark_session" not in client.cookies


def test_an_account_is_throttled_from_every_address_and_unknown_emails_alike(
    strict_services: Services,
) -> None:
    for address, email in (("203.0.113.1", "ada@example.com"), ("203.0.113.3", "no@example.com")):
        with client_at(strict_services, address) as first:
            if email == "ada@example.com":
                make_account(first, email)
            for _ in range(3):
                assert sign_in(first, email, "wrong password!").status_code == 401
    with client_at(strict_services, "203.0.113.2") as second:
        known, unknown = sign_in(second, "ada@example.com"), sign_in(second, "no@example.com")
        assert (known.status_code, unknown.status_code) == (429, 429)
        assert known.json()["detail"] == unknown.json()["detail"]
        # Another account from this address is not held back by ada's budget.
        make_account(second, "bo@example.com")


def test_a_successful_sign_in_does_not_refill_the_address_budget(
    strict_services: Services,
) -> None:
    with client_at(strict_services, "203.0.113.9") as attacker:
        make_account(attacker, "mallory@example.com")
        for victim in ("ada@example.com", "ada@example.com", "bo@example.com", "bo@example.com"):
            assert sign_in(attacker, victim, "guessed password").status_code == 401
        assert sign_in(attacker, "mallory@example.com").status_code == 200
        assert sign_in(attacker, "cy@example.com", "guessed password").status_code == 401
        refused = sign_in(attacker, "dee@example.com", "guessed password")
        assert refused.status_code == 429
        assert "from your network address" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) > 0
    with client_at(strict_services, "203.0.113.10") as elsewhere:
        assert sign_in(elsewhere, "dee@example.com", "guessed password").status_code == 401


def two_sessions(client: TestClient, services: Services, email: str) -> list[TestClient]:
    """`email` signed in on two more browsers (clients with their own cookies)."""
    browsers = []
    for _ in range(2):
        browser = TestClient(create_app(services=services))
        browser.headers["x-csrf-token"] = sign_in(browser, email).json()["csrf_token"]
        browsers.append(browser)
    return browsers


def test_a_new_sign_in_keeps_the_other_sessions(
    client: TestClient, services: Services, alice: Account
) -> None:
    laptop, phone = two_sessions(client, services, alice.email)
    assert laptop.get("/api/v1/me").status_code == 200
    assert phone.get("/api/v1/me").status_code == 200


def test_a_new_sign_in_in_the_same_browser_replaces_its_session(
    client: TestClient, alice: Account
) -> None:
    sign_in(client, alice.email)
    old = client.cookies["copymark_session"]
    sign_in(client, alice.email)
    new = client.cookies["copymark_session"]
    assert new != old
    assert client.get("/api/v1/me").status_code == 200
    client.cookies.clear()
    client.cookies.set("copymark_session", old)
    assert client.get("/api/v1/me").status_code == 401


def test_delete_current_session_signs_out_this_session_only(
    client: TestClient, services: Services, alice: Account
) -> None:
    laptop, phone = two_sessions(client, services, alice.email)
    ended = laptop.delete("/api/v1/sessions/current")
    assert ended.status_code == 200
    assert ended.json() == {"ended": 1}
    assert "copymark_session" not in laptop.cookies
    assert laptop.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 200


def test_ending_a_session_needs_the_csrf_token(
    client: TestClient, services: Services, alice: Account
) -> None:
    laptop, _ = two_sessions(client, services, alice.email)
    refused = laptop.delete("/api/v1/sessions", headers={"x-csrf-token": "forged"})
    assert refused.status_code == 403
    assert laptop.get("/api/v1/me").status_code == 200


def test_delete_sessions_signs_out_everywhere_but_keeps_api_keys(
    client: TestClient, services: Services, alice: Account
) -> None:
    laptop, phone = two_sessions(client, services, alice.email)
    ended = phone.delete("/api/v1/sessions")
    assert ended.status_code == 200
    assert ended.json() == {"ended": 2}
    assert laptop.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers=alice.headers).status_code == 200


def test_sign_out_everywhere_works_with_an_api_key(
    client: TestClient, services: Services, alice: Account
) -> None:
    laptop, _ = two_sessions(client, services, alice.email)
    assert client.delete("/api/v1/sessions", headers=alice.headers).json() == {"ended": 2}
    assert laptop.get("/api/v1/me").status_code == 401


def test_ending_the_current_session_with_an_api_key_says_there_is_none(
    client: TestClient, alice: Account
) -> None:
    answer = client.delete("/api/v1/sessions/current", headers=alice.headers)
    assert answer.status_code == 400
    assert "API key, not a sign-in session" in answer.json()["detail"]


def test_a_cross_site_browser_sign_in_is_refused(client: TestClient, alice: Account) -> None:
    forged = {"email": alice.email, "password": PASSWORD}
    answer = client.post(
        "/api/v1/sessions", json=forged, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert "sent from another website" in answer.json()["detail"]
    same = client.post("/api/v1/sessions", json=forged, headers={"Origin": "http://testserver"})
    assert same.status_code == 200


def test_sign_up_mails_a_link_that_verifies_the_address(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    account = make_account(mailing_client, "ada@example.com")
    me = mailing_client.get("/api/v1/me", headers=account.headers).json()
    assert me["email_verified"] is False
    token = verification_token(inbox.wait_for_message_to("ada@example.com"))
    confirmed = mailing_client.post("/api/v1/email-verifications", json={"token": token})
    assert (confirmed.status_code, confirmed.json()["email_verified"]) == (200, True)
    me = mailing_client.get("/api/v1/me", headers=account.headers).json()
    assert me["email_verified"] is True


def test_a_sign_up_with_a_taken_address_mails_no_link(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    make_account(mailing_client, "ada@example.com", inbox=inbox)
    assert sign_up(mailing_client, "ada@example.com", "another long password")[0] == 202
    make_account(mailing_client, "ben@example.com", inbox=inbox)  # mail is sent in order
    assert len(inbox.to("ada@example.com")) == 1


def test_an_invalid_verification_link_is_refused_in_words(mailing_client: TestClient) -> None:
    refused = mailing_client.post("/api/v1/email-verifications", json={"token": "made-up"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "verification_link_invalid"
    assert "ask for a new one" in refused.json()["detail"]


def test_a_new_link_is_throttled_with_retry_after(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    account = make_account(mailing_client, "ada@example.com")
    inbox.wait_for_message_to("ada@example.com")
    again = mailing_client.post("/api/v1/me/email-verification", headers=account.headers)
    assert again.status_code == 429
    assert 0 < int(again.headers["Retry-After"]) <= 60
    assert "check your inbox" in again.json()["detail"]


def test_a_verified_address_asks_for_no_new_link(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    account = make_account(mailing_client, "ada@example.com", inbox=inbox)
    again = mailing_client.post("/api/v1/me/email-verification", headers=account.headers)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_without_email_a_new_link_is_unavailable_in_words(
    alice: Account, client: TestClient
) -> None:
    refused = client.post("/api/v1/me/email-verification", headers=alice.headers)
    assert (refused.status_code, refused.json()["code"]) == (503, "email_disabled")
    assert "ask its operator" in refused.json()["detail"]


def test_an_unverified_brand_cannot_create_an_organisation(client: TestClient) -> None:
    brand = make_account(client, "buyer@brand.example", roles=["brand"])
    refused = client.post(
        "/api/v1/organisations",
        json={"name": "Brand", "domain": "brand.example"},
        headers=brand.headers,
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "email_not_verified")
    assert refused.json()["detail"].startswith("Verify your email address first")
