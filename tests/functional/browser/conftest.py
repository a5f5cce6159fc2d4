"""The app served by uvicorn on a free loopback port, driven by headless Chromium.

Browser tests skip when Chromium cannot start, unless COPYMARK_TEST_BROWSER=required.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Error, Page, Playwright, sync_playwright

from frontend.app import create_app
from frontend.services import Services
from tests.functional.browser.journey import VIEWINGS, Viewing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_SECONDS = 60.0


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Browser journeys run on SQLite only: the database kinds are covered by the API tests."""
    path = tmp_path / "copymark.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, and tests in later modules call asyncio.run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Error as error:
        if os.environ.get("COPYMARK_TEST_BROWSER") == "required":
            raise
        pytest.skip(f"Chromium cannot start here: {error.message.splitlines()[0]}")
    yield chromium
    chromium.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_url(services: Services) -> Iterator[str]:
    """Base URL of the app running in a background thread on 127.0.0.1."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="copymark-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@contextmanager
def open_tab(
    browser: Browser, live_url: str, width: int, height: int, locale: str
) -> Iterator[Page]:
    """A tab on the live app that fails its test if the Content-Security-Policy blocked anything.

    Anything the policy blocks is a page that no longer works as written.
    """
    context = browser.new_context(
        base_url=live_url, viewport={"width": width, "height": height}, locale=locale
    )
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    blocked: list[str] = []
    tab.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield tab
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    with open_tab(browser, live_url, 1280, 900, "en-US") as tab:
        yield tab


@pytest.fixture
def screenshots(artifacts_dir: Path) -> Path:
    folder = artifacts_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(params=VIEWINGS, ids=[viewing.name for viewing in VIEWINGS])
def viewing(request: pytest.FixtureRequest) -> Viewing:
    chosen: Viewing = request.param
    return chosen


@pytest.fixture
def journey_page(browser: Browser, live_url: str, viewing: Viewing) -> Iterator[Page]:
    """A tab at the viewing's screen size whose browser asks for the viewing's language."""
    locale = "zh-CN" if viewing.language == "zh" else "en-US"
    with open_tab(browser, live_url, viewing.width, viewing.height, locale) as tab:
        yield tab


@pytest.fixture
def journey_shots(screenshots: Path, viewing: Viewing, request: pytest.FixtureRequest) -> Path:
    """The folder for one journey's screenshots at one viewing."""
    folder = screenshots / request.node.originalname / viewing.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
