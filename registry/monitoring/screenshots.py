"""Every connection the screenshot browser makes passes the crawler's network guard first.

Headless Chromium renders the page a copy was found on, so that the evidence shows it as a
visitor saw it. Left to itself the browser would reach whatever the page points it at (private
addresses, metadata endpoints) and the answer would end up in the downloadable evidence.

Design: Chromium's only way out is a GuardedProxy (similarity/crawl/proxy.py) that the
screenshotter starts on 127.0.0.1. Each plain-HTTP request and each CONNECT tunnel (https,
wss, ws) is vetted there by the same NetGuard, with the same allow-list, as the crawler's
fetches; the proxy connects to the address the guard vetted, so a DNS answer cannot change
between check and connection. Every redirect hop, iframe, script-driven navigation, popup,
fetch and WebSocket is a new proxied request, so each is vetted on its own. Chromium is told:

- `--proxy-server` with `--proxy-bypass-list=<-loopback>`: by default Chromium sends loopback
  addresses around the proxy, and 127/8 is exactly what must be vetted;
- `--host-resolver-rules` mapping every name but the proxy's to "not found": Chromium never
  needs to resolve a name itself (the proxy does), so nothing can reach a name directly;
- WebRTC may not use UDP outside the proxy (`disable_non_proxied_udp`), so ICE (STUN, TURN)
  has no way out but a vetted CONNECT; QUIC is off;
- service workers are blocked per context, so no worker outlives or bypasses the page.

Why a proxy rather than Playwright's `page.route`, the previous check: interception is not
consulted for redirect hops or WebSockets (the outside probe read an internal address through a
redirect), nor for Chromium's preconnects or a popup's requests (the canary tests caught
those), and it vets a name that Chromium then resolves again. The route check is gone rather
than kept as a second layer: the proxy sees every request the route would see, and interception
also turns off the browser's cache for nothing.

A page whose main navigation ends at a refused target is not photographed: the reason is
recorded instead. When Chromium is missing or fails, no screenshot is taken and the reason is
recorded.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

from registry.monitoring.evidence import Screenshot
from similarity.crawl.netguard import NetGuard
from similarity.crawl.proxy import GUARD_HEADER, GuardedProxy

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)


def proxied_chromium_args(proxy_port: int) -> list[str]:
    """Chromium's switches with the guarded proxy at `proxy_port` as its only way out."""
    return [
        *CHROMIUM_ARGS,
        f"--proxy-server=http://127.0.0.1:{proxy_port}",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ]


class Screenshotter(Protocol):
    """Renders a page to a full-page PNG, or says why it could not."""

    async def capture(self, url: str) -> Screenshot:
        """A screenshot of the page at `url`."""
        ...

    async def close(self) -> None:
        """Release the browser, if one was started."""
        ...


class NoScreenshots:
    """Takes no screenshots, recording why."""

    def __init__(self, reason: str = "screenshots are disabled") -> None:
        self.reason = reason

    async def capture(self, url: str) -> Screenshot:
        """No screenshot, with the configured reason."""
        return Screenshot(None, self.reason)

    async def close(self) -> None:
        """Nothing to release."""


class ChromiumScreenshotter:
    """Headless Chromium through Playwright, started on first use and reused until closed."""

    def __init__(
        self,
        guard: NetGuard,
        *,
        executable: Path = CHROMIUM,
        timeout_s: float = 20.0,
        viewport: tuple[int, int] = (1280, 800),
    ) -> None:
        self._guard = guard
        self._executable = executable
        self._timeout_ms = timeout_s * 1000
        self._viewport = {"width": viewport[0], "height": viewport[1]}
        self._proxy: GuardedProxy | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._unavailable: str | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def capture(self, url: str) -> Screenshot:
        """A full-page PNG of `url`, or the reason none could be taken."""
        from playwright.async_api import Error as PlaywrightError

        browser = await self._started()
        if browser is None:
            return Screenshot(None, self._unavailable)
        context = await browser.new_context(viewport=self._viewport, service_workers="block")
        try:
            page = await context.new_page()
            response = await page.goto(url, wait_until="load", timeout=self._timeout_ms)
            if await _refused_by_the_proxy(response):
                return Screenshot(None, "the page led the browser to an address the guard refuses")
            png = await page.screenshot(full_page=True, type="png", timeout=self._timeout_ms)
            return Screenshot(bytes(png))
        except PlaywrightError as error:
            return Screenshot(None, f"Chromium could not render the page: {error.message[:300]}")
        finally:
            await context.close()

    async def _started(self) -> Any:
        if self._browser is not None or self._unavailable is not None:
            return self._browser
        if not self._executable.exists():
            self._unavailable = f"Chromium is not installed at {self._executable}"
            return None
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError:
            self._unavailable = "Playwright is not installed"
            return None
        try:
            self._proxy = GuardedProxy(self._guard)
            await self._proxy.start()
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self._executable), args=proxied_chromium_args(self._proxy.port)
            )
        except PlaywrightError as error:
            self._unavailable = f"Chromium did not start: {error.message[:300]}"
            await self.close()
        except OSError as error:
            self._unavailable = f"the browser's guarded proxy did not start: {error}"
            await self.close()
        return self._browser

    async def close(self) -> None:
        """Stop the browser, Playwright and the proxy."""
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        if self._proxy is not None:
            await self._proxy.aclose()
            self._proxy = None


async def _refused_by_the_proxy(response: Any) -> bool:
    """Whether the main document is the proxy's refusal, not a page.

    Only a plain-HTTP answer can be the proxy's own: an https answer comes through a tunnel
    from the server, which could send the marker to keep its page out of the evidence.
    """
    if response is None or not str(response.url).startswith("http://"):
        return False
    return bool(await response.header_value(GUARD_HEADER) == "refused")
