"""Screenshots: a full-page PNG from headless Chromium, whose every connection passes the guard.

The crawl allows 127.0.0.1 only, as tests and the demo do. Canary servers on other loopback
addresses (127.0.0.2, 127.0.0.3; Linux routes all of 127/8 to lo) count every connection and
paint anything they serve in the canary colour: after a capture they must have seen nothing,
and the screenshot must not show that colour.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from registry.monitoring.evidence import Screenshot
from registry.monitoring.screenshots import CHROMIUM, ChromiumScreenshotter, proxied_chromium_args
from similarity.crawl.netguard import NetGuard
from tests.sites import CANARY_RGB, CanaryServer, LoopbackSite, png_bytes

PAGE_RGB = (0, 150, 80)
PAGE_HEX = "#009650"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("COPYMARK_TEST_BROWSER") != "required",
    reason="Chromium is not installed",
)


@pytest.fixture
def canary() -> Iterator[CanaryServer]:
    with CanaryServer("127.0.0.2") as server:
        yield server


@pytest.fixture
def other_canary() -> Iterator[CanaryServer]:
    with CanaryServer("127.0.0.3") as server:
        yield server


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    with LoopbackSite({"work.png": png_bytes(3, 64)}) as served:
        yield served


def page(body: str, head: str = "") -> bytes:
    """An allowed page painted in its own colour."""
    return (
        f"<!doctype html><html><head>{head}</head>"
        f'<body style="background:{PAGE_HEX};min-height:600px">{body}</body></html>'
    ).encode()


def shoot(url: str, executable: Path = CHROMIUM) -> Screenshot:
    async def go() -> Screenshot:
        guard = NetGuard(allow_hosts=["127.0.0.1"])
        async with ChromiumScreenshotter(guard, executable=executable, timeout_s=20) as browser:
            return await browser.capture(url)

    screenshot = asyncio.run(go())
    time.sleep(0.3)  # let the canaries' threads count a connection the kernel already accepted
    return screenshot


def share_of(png: bytes, rgb: tuple[int, int, int]) -> float:
    """The share of the screenshot's pixels within a small distance of `rgb`."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    close = np.abs(pixels - np.array(rgb, dtype=np.int16)).max(axis=2) <= 12
    return float(close.mean())


def assert_untouched(screenshot: Screenshot, *canaries: CanaryServer) -> None:
    for server in canaries:
        assert server.reached == 0, (server.host, server.requests, server.datagrams)
    if screenshot.png is not None:
        assert share_of(screenshot.png, CANARY_RGB) == 0.0


@pytest.mark.usefixtures("canary")
@pytest.mark.browser
@needs_chromium
def test_an_allowed_page_is_rendered_in_its_own_colour(site: LoopbackSite) -> None:
    site.add_page("/copy", page('<img src="/images/work.png" width="64" height="64">'))
    screenshot = shoot(site.url("/copy"))
    assert screenshot.png is not None, screenshot.skipped_reason
    assert screenshot.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert share_of(screenshot.png, PAGE_RGB) > 0.5
    assert site.hits("/images/work.png") == 1


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_to_a_guarded_address_reaches_nothing(
    site: LoopbackSite, canary: CanaryServer, scheme: str
) -> None:
    site.add_page("/moved", b"", headers={"Location": canary.url("/meta-data", scheme)}, status=302)
    site.add_page("/copy", b"", headers={"Location": "/moved"}, status=301)
    screenshot = shoot(site.url("/copy"))
    assert site.hits("/moved") == 1
    assert_untouched(screenshot, canary)
    assert screenshot.png is None
    assert screenshot.skipped_reason


@pytest.mark.browser
@needs_chromium
def test_sub_resources_frames_fetch_websockets_and_refresh_towards_guarded_addresses_reach_nothing(
    site: LoopbackSite, canary: CanaryServer, other_canary: CanaryServer
) -> None:
    websocket = other_canary.url("/socket", "ws")
    stun = f"stun:{other_canary.host}:{other_canary.port}"
    turn = f"turn:{other_canary.host}:{other_canary.port}?transport=tcp"
    head = (
        f'<meta http-equiv="refresh" content="0;url={canary.url("/refresh.html")}">'
        f'<link rel="stylesheet" href="{canary.url("/style.css")}">'
        f'<script src="{canary.url("/script.js")}"></script>'
        "<script>"
        f"fetch({canary.url('/fetch')!r}).catch(() => {{}});"
        f"fetch({canary.url('/fetch.png', 'https')!r}).catch(() => {{}});"
        f"try {{ new WebSocket({websocket!r}); }} catch (e) {{}}"
        f"try {{ new WebSocket({other_canary.url('/socket', 'wss')!r}); }} catch (e) {{}}"
        "try {"
        "  const pc = new RTCPeerConnection({iceServers: ["
        f"    {{urls: {stun!r}}}, {{urls: {turn!r}, username: 'u', credential: 'c'}}]}});"
        "  pc.createDataChannel('x');"
        "  pc.createOffer().then((offer) => pc.setLocalDescription(offer));"
        "} catch (e) {}"
        "</script>"
    )
    body = (
        f'<img src="{canary.url("/image.png")}" width="200" height="200">'
        f'<img src="{canary.url("/secure.png", "https")}" width="200" height="200">'
        f'<iframe src="{canary.url("/frame.html")}" width="300" height="300"></iframe>'
        f'<iframe src="{other_canary.url("/frame.html", "https")}" width="300"></iframe>'
    )
    site.add_page("/copy", page(body, head))
    screenshot = shoot(site.url("/copy"))
    assert site.hits("/copy") == 1
    assert_untouched(screenshot, canary, other_canary)


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize(
    "script",
    [
        "location.href = CANARY;",
        "location.replace('/moved');",
        "window.open(CANARY);",
        "setTimeout(() => { location.href = CANARY; }, 50);",
    ],
    ids=["location", "location-to-a-redirect", "popup", "location-after-load"],
)
def test_scripts_navigating_to_a_guarded_address_reach_nothing(
    site: LoopbackSite, canary: CanaryServer, script: str
) -> None:
    site.add_page("/moved", b"", headers={"Location": canary.url("/meta-data")}, status=302)
    code = script.replace("CANARY", repr(canary.url("/navigated.html")))
    site.add_page("/copy", page("<p>copy</p>", f"<script>{code}</script>"))
    screenshot = shoot(site.url("/copy"))
    assert site.hits("/copy") == 1
    assert_untouched(screenshot, canary)


def test_chromium_has_no_way_out_but_the_guarded_proxy() -> None:
    # Not bypassing the proxy for loopback and resolving no name but the proxy's each keep
    # the canaries above unreachable alone, so those tests cannot tell if one of them goes.
    args = proxied_chromium_args(4321)
    assert "--proxy-server=http://127.0.0.1:4321" in args
    assert "--proxy-bypass-list=<-loopback>" in args
    assert "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1" in args
    assert "--force-webrtc-ip-handling-policy=disable_non_proxied_udp" in args


def test_a_missing_browser_is_a_recorded_reason(tmp_path: Path) -> None:
    screenshot = shoot("http://127.0.0.1:9/", executable=tmp_path / "no-chromium")
    assert screenshot.png is None
    assert "not installed" in (screenshot.skipped_reason or "")
