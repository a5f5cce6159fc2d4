"""Factories for test objects: images with distinct content, accounts with API keys."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as skimage_data

from tests.support.receivers import SmtpInbox, verification_token

# The password every account made for a test signs in with.
PASSWORD = "correct horse battery"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


def photo_jpeg(name: str = "astronaut", quality: int = 90, max_side: int = 640) -> bytes:
    image = Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def random_png(seed: int, side: int = 256) -> bytes:
    """A picture of random blocks, unlike any other seed's."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    image = Image.fromarray(blocks).resize((side, side), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Account:
    email: str
    api_key: str
    user_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_account(
    client: TestClient,
    email: str,
    roles: list[str] | None = None,
    *,
    inbox: SmtpInbox | None = None,
) -> Account:
    """An account with an API key; with `inbox` (the app's SMTP server), its address verified by
    the link sign-up mailed, as a person verifies it."""
    mailed_before = len(inbox.to(email)) if inbox is not None else 0
    created = client.post(
        "/api/v1/users", json={"email": email, "password": PASSWORD, "roles": roles or ["creator"]}
    )
    # Sign-up answers alike for a new and a taken address, so the id comes from /me.
    assert created.status_code == 202, created.text
    if inbox is not None:
        token = verification_token(inbox.wait_for_message_to(email, mailed_before + 1))
        confirmed = client.post("/api/v1/email-verifications", json={"token": token})
        assert confirmed.status_code == 200, confirmed.text
    login = client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    csrf = {"x-csrf-token": login.json()["csrf_token"]}
    issued = client.post("/api/v1/api-keys", json={"name": "tests"}, headers=csrf)
    user_id = client.get("/api/v1/me").json()["id"]
    assert client.delete("/api/v1/sessions/current", headers=csrf).status_code == 200
    client.cookies.clear()
    if issued.status_code != 201:
        raise AssertionError(issued.text)
    return Account(email, issued.json()["api_key"], user_id)
