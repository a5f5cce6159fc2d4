"""Finding a site's abuse contact through the crawler's guarded fetcher, on a loopback site."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from registry.enforcement.contacts import (
    discover_contacts,
    page_mailto_addresses,
    security_txt_contacts,
)
from similarity.crawl.netguard import NetGuard

SECURITY_TXT = """# RFC 9116
Contact: mailto:security@site.test
Contact: https://site.test/report
contact:  mailto:DMCA@Site.test
Expires: 2030-01-01T00:00:00.000Z
"""
PAGE = """<html><body><p>Write to <a href="mailto:hello@site.test?subject=hi">us</a>,
<a href='mailto:abuse@site.test'>abuse</a>, <a href="mailto:a@b.test%0D%0ABcc:x@evil.test">x</a>,
<a href="mailto:not-an-address">y</a> or <a href="mailto:security@site.test">again</a>.</p>
</body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            pages = {"/.well-known/security.txt": SECURITY_TXT, "/gallery": PAGE}
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            data = (body or "missing").encode()
            self.send_header(
                "Content-Type", "text/html" if self.path == "/gallery" else "text/plain"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_security_txt_comes_first_and_copyright_addresses_lead(site: str) -> None:
    search = asyncio.run(discover_contacts(f"{site}/gallery", NetGuard(allow_hosts=["127.0.0.1"])))
    assert [(c.address, c.source) for c in search.contacts] == [
        ("dmca@site.test", "security.txt"),
        ("abuse@site.test", "page"),
        ("security@site.test", "security.txt"),
        ("hello@site.test", "page"),
    ]
    assert search.problems == []


def test_the_network_guard_refuses_a_private_site(site: str) -> None:
    search = asyncio.run(discover_contacts(f"{site}/gallery", NetGuard()))
    assert search.contacts == []
    assert len(search.problems) == 2
    assert all("refused" in problem for problem in search.problems)


def test_a_site_without_contacts_says_what_it_answered(site: str) -> None:
    search = asyncio.run(discover_contacts(f"{site}/nothing", NetGuard(allow_hosts=["127.0.0.1"])))
    assert [c.address for c in search.contacts] == ["dmca@site.test", "security@site.test"]
    assert search.problems == [f"page: {site}/nothing answered HTTP 404"]


def test_parsers_take_only_mailto_values() -> None:
    assert security_txt_contacts(SECURITY_TXT) == ["security@site.test", "DMCA@Site.test"]
    assert page_mailto_addresses("<a href=mailto:x@y.test>") == ["x@y.test"]
