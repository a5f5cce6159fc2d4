"""A batch upload streams each file to the blob store: holding twice as many files costs the
server about as much memory, not twice as much.

The client streams its files from disk to a real server on loopback (TestClient would hold the
whole request in memory itself); tracemalloc traces what Python and numpy allocate.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from frontend.app import create_app
from frontend.services import Services
from tests.factories import make_account
from tests.support.live_server import live_server

MiB = 1024 * 1024


def noisy_jpeg(seed: int, side: int = 1400) -> bytes:
    """A JPEG of noise: about 3 MiB that no other seed's resembles."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def live_url(services: Services) -> Iterator[str]:
    with live_server(create_app(services=services)) as url:
        yield url


def _batch_peak(base_url: str, headers: dict[str, str], paths: list[Path]) -> int:
    """Peak bytes traced while the server takes one batch of these files."""
    with ExitStack() as files:
        parts = [("files", (path.name, files.enter_context(path.open("rb")))) for path in paths]
        tracemalloc.start()
        try:
            response = httpx.post(
                base_url + "/api/v1/works/batch", files=parts, headers=headers, timeout=600
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 207, response.text
    assert all(line.get("status") == "registered" for line in response.json()), response.text
    return peak


def test_a_batch_twice_as_large_does_not_hold_twice_as_much(live_url: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=live_url, timeout=120) as client:
        alice = make_account(client, "alice@example.com")  # type: ignore[arg-type]
    count = max(6, os.cpu_count() or 1)
    paths = []
    for seed in range(3 * count + 4):
        path = tmp_path / f"upload-{seed}.jpg"
        path.write_bytes(noisy_jpeg(seed))
        paths.append(path)
    size = sum(path.stat().st_size for path in paths) / len(paths)
    assert size > 2 * MiB
    # Two small batches first: the second finds candidates in the first, so whatever the
    # matcher loads on first use (the copy descriptor's session) is loaded before measuring.
    _batch_peak(live_url, alice.headers, paths[3 * count : 3 * count + 2])
    _batch_peak(live_url, alice.headers, paths[3 * count + 2 :])
    small = _batch_peak(live_url, alice.headers, paths[:count])
    large = _batch_peak(live_url, alice.headers, paths[count : 3 * count])
    # Holding every file would add `count` files' worth; streaming adds next to nothing.
    assert large - small < count * size / 2, (small, large, size)


def test_a_batch_keeps_no_blob_of_a_file_it_refused(
    live_url: str, services: Services, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_url, timeout=120) as client:
        alice = make_account(client, "alice@example.com")  # type: ignore[arg-type]
        good = noisy_jpeg(1, side=300)
        response = client.post(
            "/api/v1/works/batch",
            headers=alice.headers,
            files=[
                ("files", ("good.jpg", good)),
                ("files", ("notes.pdf", b"%PDF-1.7 not an image")),
                ("files", ("again.jpg", good)),
            ],
        )
    assert response.status_code == 207, response.text
    lines = response.json()
    assert lines[0]["status"] == "registered"
    assert "PDF" in lines[1]["error"]
    assert "same bytes as good.jpg" in lines[2]["error"]
    stored = [
        path.name for path in (services.settings.blob_dir / "sha256").rglob("*") if path.is_file()
    ]
    assert stored == [lines[0]["sha256"]]
