"""Searches by image have a pixel budget: per request, checked from the header before decoding,
and per anonymous client over a minute."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import ImageFile

from frontend.app import create_app
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import Account, make_account, random_png


def huge_flat_png(side: int) -> bytes:
    """A real side x side PNG of one colour: a few hundred KB that decode to side² pixels."""
    row = b"\x00" + b"\x80\x80\x80" * side
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_a_7000_pixel_square_png_is_refused_before_it_is_decoded(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = huge_flat_png(7000)
    assert len(bomb) < 500_000
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def counting_load(image: ImageFile.ImageFile) -> object:
        decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    response = client.post("/api/v1/match", files={"file": ("bomb.png", bomb)})
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    detail = response.json()["detail"]
    assert "7000×7000" in detail
    assert "megapixels" in detail
    # Refused from the header: Pillow never decoded a pixel of it.
    assert (7000, 7000) not in decoded


def test_the_find_page_refuses_the_same_png_in_words(client: TestClient) -> None:
    response = client.post("/find", files={"file": ("bomb.png", huge_flat_png(7000))})
    assert response.status_code == 413
    assert "megapixels" in response.text


@pytest.fixture
def stingy_client(settings: Settings) -> Iterator[TestClient]:
    """An app whose anonymous clients may decode 200,000 pixels a minute."""
    configured = settings.model_copy(update={"anonymous_query_pixels_per_minute": 200_000})
    services = Services(configured)
    services.initialise()
    yield TestClient(create_app(services=services))
    services.close()


def test_anonymous_searches_share_a_pixel_budget_per_client(stingy_client: TestClient) -> None:
    with stingy_client as client:
        # 256 x 256 = 65,536 pixels a query: three fit in 200,000, the fourth does not.
        answers = [
            client.post("/api/v1/match", files={"file": ("q.png", random_png(seed))})
            for seed in range(4)
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) >= 1
        assert "sign in" in refused.json()["detail"]
        assert "megapixels" in refused.json()["detail"]
        signed_in: Account = make_account(client, "carol@example.com")
        again = client.post(
            "/api/v1/match", files={"file": ("q.png", random_png(9))}, headers=signed_in.headers
        )
        assert again.status_code == 200
