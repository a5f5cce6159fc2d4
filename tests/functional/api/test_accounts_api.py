"""Accounts through the API: sign-up that reveals no one, sign-in throttling, sessions."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account

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
