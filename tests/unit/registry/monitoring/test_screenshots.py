"""Screenshots: a full-page PNG from headless Chromium, each browser request vetted by the guard."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.monitoring.evidence import Screenshot
from registry.monitoring.screenshots import CHROMIUM, ChromiumScreenshotter
from similarity.crawl.netguard import NetGuard
from tests.sites import LoopbackSite, png_bytes


@pytest.fixture
def canary() -> Iterator[LoopbackSite]:
    with LoopbackSite(host="127.0.0.2") as site:
        yield site


def shoot(url: str, executable: Path = CHROMIUM) -> Screenshot:
    async def go() -> Screenshot:
        guard = NetGuard(allow_hosts=["127.0.0.1"])
        async with ChromiumScreenshotter(guard, executable=executable, timeout_s=20) as browser:
            return await browser.capture(url)

    return asyncio.run(go())


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("COPYMARK_TEST_BROWSER") != "required",
    reason="Chromium is not installed",
)
def test_a_page_is_rendered_to_png_without_reaching_guarded_hosts(canary: LoopbackSite) -> None:
    with LoopbackSite({"work.png": png_bytes(3, 64)}) as site:
        site.add_page(
            "/copy",
            f'<html><body><img src="/images/work.png"><img src="{canary.url("/tracker.png")}">'
            "</body></html>".encode(),
        )
        screenshot = shoot(site.url("/copy"))
        assert site.hits("/images/work.png") == 1
    assert screenshot.png is not None
    assert screenshot.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert canary.total_hits == 0


def test_a_missing_browser_is_a_recorded_reason(tmp_path: Path) -> None:
    screenshot = shoot("http://127.0.0.1:9/", executable=tmp_path / "no-chromium")
    assert screenshot.png is None
    assert "not installed" in (screenshot.skipped_reason or "")
