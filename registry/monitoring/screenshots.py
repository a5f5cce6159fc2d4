"""Every request the screenshot browser makes passes the crawler's network guard first.

Headless Chromium renders the page a copy was found on, so that the evidence shows it as a
visitor saw it. The browser would otherwise fetch whatever the page points at (private
addresses, metadata endpoints): each request is intercepted and vetted by the same NetGuard as
the crawler, and aborted when refused. The browser resolves names again after the check, so a
DNS answer that changes in between is not covered as it is for the crawler's pinned fetches.
When Chromium is missing or fails, no screenshot is taken and the reason is recorded.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

from registry.monitoring.evidence import Screenshot
from similarity.crawl.netguard import NetGuard, TargetRefusedError

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


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
            await page.route("**/*", self._vet)
            await page.goto(url, wait_until="load", timeout=self._timeout_ms)
            png = await page.screenshot(full_page=True, type="png", timeout=self._timeout_ms)
            return Screenshot(bytes(png))
        except PlaywrightError as error:
            return Screenshot(None, f"Chromium could not render the page: {error.message[:300]}")
        finally:
            await context.close()

    async def _vet(self, route: Any) -> None:
        try:
            await self._guard.vet(route.request.url)
        except TargetRefusedError:
            await route.abort("blockedbyclient")
            return
        await route.continue_()

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
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self._executable), args=list(CHROMIUM_ARGS)
            )
        except PlaywrightError as error:
            self._unavailable = f"Chromium did not start: {error.message[:300]}"
            await self.close()
        return self._browser

    async def close(self) -> None:
        """Stop the browser and Playwright."""
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
