"""Account pages: sign-up that reveals no one, sign-in throttling, cross-site posts, sign-out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Account

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
