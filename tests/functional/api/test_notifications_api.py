"""The notification API driven through the app: inbox, preferences, webhook endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from frontend.app import create_app
from frontend.services import Services
from registry.models import User
from registry.notifications.service import notify
from tests.factories import Account, make_account
from tests.support.receivers import WebhookReceiver


@pytest.fixture
def client(notifying_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=notifying_services)) as test_client:
        yield test_client


@pytest.fixture
def alice_account(client: TestClient) -> Account:
    return make_account(client, "alice@example.com")


@pytest.fixture
def bob_account(client: TestClient) -> Account:
    return make_account(client, "bob@example.com")


def _notify(services: Services, account: Account, subject: str = "Copy found") -> int:
    with services.session() as session:
        user = session.exec(select(User).where(User.id == account.user_id)).one()
        notification = notify(session, user, "alert.created", subject, "body", {"alert_id": 3})
        session.commit()
        assert notification.id is not None
        return notification.id


def test_list_returns_my_notifications(
    client: TestClient, notifying_services: Services, alice_account: Account
) -> None:
    notification_id = _notify(notifying_services, alice_account)
    answer = client.get("/api/v1/notifications", headers=alice_account.headers)
    assert answer.status_code == 200
    assert [item["id"] for item in answer.json()] == [notification_id]
    assert answer.json()[0]["payload"] == {"alert_id": 3}


def test_list_hides_other_users_notifications(
    client: TestClient,
    notifying_services: Services,
    alice_account: Account,
    bob_account: Account,
) -> None:
    _notify(notifying_services, alice_account)
    answer = client.get("/api/v1/notifications", headers=bob_account.headers)
    assert answer.json() == []


def test_mark_read_marks_my_notification(
    client: TestClient, notifying_services: Services, alice_account: Account
) -> None:
    notification_id = _notify(notifying_services, alice_account)
    answer = client.post(
        f"/api/v1/notifications/{notification_id}/read", headers=alice_account.headers
    )
    assert answer.status_code == 200
    assert answer.json()["read_at"] is not None
    unread = client.get("/api/v1/notifications?unread_only=true", headers=alice_account.headers)
    assert unread.json() == []


def test_mark_read_of_a_foreign_notification_answers_404(
    client: TestClient,
    notifying_services: Services,
    alice_account: Account,
    bob_account: Account,
) -> None:
    notification_id = _notify(notifying_services, alice_account)
    answer = client.post(
        f"/api/v1/notifications/{notification_id}/read", headers=bob_account.headers
    )
    assert answer.status_code == 404
    mine = client.get("/api/v1/notifications", headers=alice_account.headers).json()
    assert mine[0]["read_at"] is None


def test_inbox_needs_authentication(client: TestClient) -> None:
    assert client.get("/api/v1/notifications").status_code == 401


def test_preferences_change_email_mode(client: TestClient, alice_account: Account) -> None:
    changed = client.put(
        "/api/v1/notification-preferences",
        json={"email_mode": "daily"},
        headers=alice_account.headers,
    )
    read_back = client.get("/api/v1/notification-preferences", headers=alice_account.headers)
    assert changed.status_code == 200
    assert read_back.json() == {"email_mode": "daily"}


def test_unknown_email_mode_is_refused(client: TestClient, alice_account: Account) -> None:
    answer = client.put(
        "/api/v1/notification-preferences",
        json={"email_mode": "hourly"},
        headers=alice_account.headers,
    )
    assert answer.status_code == 422


def test_webhook_secret_is_shown_once(
    client: TestClient, alice_account: Account, receiver: WebhookReceiver
) -> None:
    created = client.post(
        "/api/v1/webhooks", json={"url": receiver.url}, headers=alice_account.headers
    )
    listed = client.get("/api/v1/webhooks", headers=alice_account.headers)
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert [item["id"] for item in listed.json()] == [created.json()["id"]]
    assert "secret" not in listed.json()[0]


def test_webhook_to_cloud_metadata_is_refused(client: TestClient, alice_account: Account) -> None:
    answer = client.post(
        "/api/v1/webhooks",
        json={"url": "https://169.254.169.254/latest/meta-data"},
        headers=alice_account.headers,
    )
    assert answer.status_code == 422
    assert "metadata" in answer.json()["detail"]


def test_plain_http_webhook_to_a_public_host_is_refused(
    client: TestClient, alice_account: Account
) -> None:
    answer = client.post(
        "/api/v1/webhooks", json={"url": "http://93.184.215.14/hook"}, headers=alice_account.headers
    )
    assert answer.status_code == 422
    assert "https" in answer.json()["detail"]


def test_removing_a_foreign_webhook_answers_404(
    client: TestClient, alice_account: Account, bob_account: Account, receiver: WebhookReceiver
) -> None:
    created = client.post(
        "/api/v1/webhooks", json={"url": receiver.url}, headers=alice_account.headers
    ).json()
    answer = client.delete(f"/api/v1/webhooks/{created['id']}", headers=bob_account.headers)
    assert answer.status_code == 404
    assert len(client.get("/api/v1/webhooks", headers=alice_account.headers).json()) == 1


def test_removed_webhook_is_no_longer_listed(
    client: TestClient, alice_account: Account, receiver: WebhookReceiver
) -> None:
    created = client.post(
        "/api/v1/webhooks", json={"url": receiver.url}, headers=alice_account.headers
    ).json()
    removed = client.delete(f"/api/v1/webhooks/{created['id']}", headers=alice_account.headers)
    assert removed.status_code == 204
    assert client.get("/api/v1/webhooks", headers=alice_account.headers).json() == []
