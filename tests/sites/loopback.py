"""A generated web site on a loopback address that logs every request it receives.

The site is hostile on purpose: next to gallery pages that embed the images a test passes in,
it serves broken images, redirect chains and loops, a robots.txt-disallowed section (whose
hits must stay at zero), slow and trickling responses, huge bodies, a gzip bomb, an endless
calendar, malformed HTML, an enormous URL and mislabelled content types.
"""

from __future__ import annotations

import gzip
import io
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from PIL import Image

EMBEDDING_STYLES = ("img", "srcset", "picture", "meta", "style", "css")
DISALLOWED_PREFIXES = ("/private/", "/images/secret")

ROBOTS_TXT = """User-agent: *
Disallow: /private/
Disallow: /images/secret

User-agent: SomeOtherBot
Disallow: /
"""

_CHUNK = 64 * 1024
_CALENDAR = re.compile(r"^/calendar/(\d{1,6})/(\d{1,2})$")
_CHAIN = re.compile(r"^/redirect/chain/(\d{1,3})$")


def png_bytes(seed: int, size: int = 32) -> bytes:
    """A small PNG whose pixels depend on `seed` (an image unrelated to any registered work)."""
    image = Image.new("RGB", (size, size))
    image.putdata(
        [
            ((seed * 37 + x * 11) % 256, (seed * 91 + y * 7) % 256, (x * y + seed) % 256)
            for y in range(size)
            for x in range(size)
        ]
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _html(title: str, body: str, head: str = "") -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title>{head}</head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early (the crawler aborting a body) are expected here."""


class LoopbackSite:
    """The site, served from a thread; use as a context manager and read `hits()` afterwards."""

    def __init__(
        self,
        images: Mapping[str, bytes] | None = None,
        *,
        host: str = "127.0.0.1",
        private_redirect: str = "http://169.254.169.254/latest/meta-data/",
        slow_s: float = 3.0,
        trickle_s: float = 10.0,
        huge_bytes: int = 64 * 1024 * 1024,
        bomb_decoded_bytes: int = 64 * 1024 * 1024,
        flaky_failures: int = 2,
        unrelated_images: int = 3,
    ) -> None:
        self.images = dict(images or {})
        self.host = host
        self.private_redirect = private_redirect
        self.slow_s = slow_s
        self.trickle_s = trickle_s
        self.huge_bytes = huge_bytes
        self.bomb_decoded_bytes = bomb_decoded_bytes
        self.flaky_failures = flaky_failures
        self.unrelated = {
            f"unrelated-{k}.png": png_bytes(1000 + k) for k in range(unrelated_images)
        }
        self.extra_pages: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self._hits: Counter[str] = Counter()
        self._targets: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._bomb: bytes | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind an ephemeral port on `host` and serve in a daemon thread."""
        site = self

        class Handler(_Handler):
            owner = site

        self._server = _Server((self.host, 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; lingering slow responses end at their next write."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "site not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """http://host:port, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this site."""
        return self.base_url + path

    def add_page(
        self,
        path: str,
        body: bytes,
        content_type: str = "text/html",
        headers: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> None:
        """Serve `body` at `path` (exact match, query ignored) with this status and headers."""
        self.extra_pages[path] = (status, content_type, body, dict(headers or {}))

    def hits(self, path: str) -> int:
        """How many requests reached `path` (query ignored)."""
        with self._lock:
            return self._hits[path]

    def hits_under(self, prefix: str) -> int:
        """How many requests reached paths starting with `prefix`."""
        with self._lock:
            return sum(count for path, count in self._hits.items() if path.startswith(prefix))

    @property
    def total_hits(self) -> int:
        """All requests received."""
        with self._lock:
            return sum(self._hits.values())

    @property
    def targets(self) -> list[str]:
        """Every request target received, in order."""
        with self._lock:
            return list(self._targets)

    def disallowed_hits(self) -> int:
        """Requests to paths robots.txt disallows; a polite crawler keeps this at zero."""
        return sum(self.hits_under(prefix) for prefix in DISALLOWED_PREFIXES)

    def _record(self, target: str) -> int:
        path = urlsplit(target).path
        with self._lock:
            self._hits[path] += 1
            self._targets.append(target)
            return self._hits[path]

    def bomb_body(self) -> bytes:
        """gzip of `bomb_decoded_bytes` zero bytes (built once, about 1/1000 of that size)."""
        if self._bomb is None:
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as stream:
                zeros = bytes(1024 * 1024)
                for _ in range(self.bomb_decoded_bytes // len(zeros)):
                    stream.write(zeros)
            self._bomb = buffer.getvalue()
        return self._bomb

    def index_html(self) -> bytes:
        """The home page, linking to every part of the site."""
        links = [f"/gallery/{style}" for style in EMBEDDING_STYLES] + [
            "/unrelated",
            "/broken",
            "/redirect/to-gallery",
            "/redirect/loop-a",
            "/redirect/chain/9",
            "/redirect/private",
            "/calendar/2024/1",
            "/slow",
            "/trickle",
            "/huge",
            "/huge-declared",
            "/bomb",
            "/malformed",
            "/long-url",
            "/wrong-type/page",
            "/wrong-type/image",
            "/private/secret",
            "/flaky",
            "/etag",
            "http://elsewhere.invalid/outside",
        ]
        body = "".join(f'<p><a href="{link}">{link}</a></p>' for link in links)
        return _html("Loopback site", body)

    def gallery_html(self, style: str) -> bytes:
        """A page embedding every test image with one embedding style."""
        urls = [f"/images/{name}?via={style}" for name in self.images]
        head = ""
        body = ""
        for index, url in enumerate(urls):
            match style:
                case "img":
                    body += f'<img src="{url}" alt="work {index}">'
                case "srcset":
                    body += f'<img srcset="{url} 2x, /images/none-{index}.png?x=1 1x" alt="">'
                case "picture":
                    body += f'<picture><source srcset="{url} 800w"><img alt=""></picture>'
                case "meta":
                    head += f'<meta property="og:image" content="{url}">'
                case "style":
                    body += f"<div style=\"background-image: url('{url}')\"></div>"
                case _:
                    head += f"<style>.w{index} {{ background: url({url}) }}</style>"
                    body += f'<div class="w{index}"></div>'
        body += '<img src="/images/secret.png"><a href="/">home</a>'
        return _html(f"Gallery ({style})", body, head)


class _Handler(BaseHTTPRequestHandler):
    owner: LoopbackSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the hit log is the record."""

    def do_GET(self) -> None:
        site = self.owner
        count = site._record(self.path)
        path = urlsplit(self.path).path
        query = urlsplit(self.path).query
        if path in site.extra_pages:
            status, content_type, body, headers = site.extra_pages[path]
            self._send(status, body, content_type, headers)
            return
        route = self._routes().get(path)
        if route is not None:
            route(count)
            return
        if path.startswith("/gallery/") and path.removeprefix("/gallery/") in EMBEDDING_STYLES:
            self._send(200, site.gallery_html(path.removeprefix("/gallery/")), "text/html")
        elif path.startswith("/images/"):
            self._image(path.removeprefix("/images/"), query)
        elif match := _CALENDAR.match(path):
            self._calendar(int(match.group(1)), int(match.group(2)))
        elif match := _CHAIN.match(path):
            hops = int(match.group(1))
            if hops == 0:
                self._send(200, _html("End of chain", ""), "text/html")
            else:
                self._redirect(f"/redirect/chain/{hops - 1}")
        elif path.startswith("/private/"):
            self._send(200, _html("Secret", "must never be fetched"), "text/html")
        else:
            self._send(404, _html("Not found", ""), "text/html")

    def _routes(self) -> dict[str, Callable[[int], None]]:
        site = self.owner
        return {
            "/": lambda _: self._send(200, site.index_html(), "text/html; charset=utf-8"),
            "/robots.txt": lambda _: self._send(200, ROBOTS_TXT.encode(), "text/plain"),
            "/unrelated": lambda _: self._send(
                200,
                _html("Unrelated", "".join(f'<img src="/images/{n}">' for n in site.unrelated)),
                "text/html",
            ),
            "/broken": lambda _: self._send(
                200,
                _html(
                    "Broken images",
                    '<img src="/images/missing.png"><img src="/images/not-image.png">'
                    '<img src="/images/truncated.png"><img src="http://[::1">',
                ),
                "text/html",
            ),
            "/redirect/to-gallery": lambda _: self._redirect("/gallery/img"),
            "/redirect/loop-a": lambda _: self._redirect("/redirect/loop-b"),
            "/redirect/loop-b": lambda _: self._redirect("/redirect/loop-a"),
            "/redirect/private": lambda _: self._redirect(site.private_redirect),
            "/slow": self._slow,
            "/trickle": self._trickle,
            "/huge": self._huge,
            "/huge-declared": self._huge_declared,
            "/bomb": lambda _: self._send(
                200, site.bomb_body(), "text/html", {"Content-Encoding": "gzip"}
            ),
            "/malformed": lambda _: self._send(
                200,
                b"<html><head><title>x</title><body><div><p><img alt=x src=/images/"
                + next(iter(site.images), "missing.png").encode()
                + b"?via=malformed><a href=/gallery/img>g<table><tr><td></div>\x00\xff<<<",
                "text/html",
            ),
            "/long-url": lambda _: self._send(
                200,
                _html("Long", f'<a href="/{"a" * 100_000}">long</a><a href="/">home</a>'),
                "text/html",
            ),
            "/wrong-type/image": lambda _: self._send(
                200,
                _html("Mislabelled image", '<img src="/images/any.png?via=mislabelled">'),
                "text/html",
            ),
            "/wrong-type/page": lambda _: self._send(
                200,
                _html("Mislabelled", '<img src="/images/any.png?via=mislabelled">'),
                "image/png",
            ),
            "/flaky": lambda count: (
                self._send(503, b"busy", "text/plain", {"Retry-After": "0"})
                if count <= site.flaky_failures
                else self._send(200, _html("Flaky", "fine now"), "text/html")
            ),
            "/etag": self._etag,
        }

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def _image(self, name: str, query: str) -> None:
        site = self.owner
        if name == "not-image.png":
            self._send(200, _html("Not an image", ""), "image/png")
        elif name == "truncated.png":
            self._send(200, png_bytes(7)[:40], "image/png")
        elif name in site.unrelated:
            self._send(200, site.unrelated[name], "image/png")
        elif name == "secret.png":
            self._send(200, png_bytes(9), "image/png")
        elif name in site.images or (query == "via=mislabelled" and site.images):
            data = site.images.get(name) or next(iter(site.images.values()))
            content_type = "text/html" if query == "via=mislabelled" else "image/png"
            self._send(200, data, content_type)
        else:
            self._send(404, b"no such image", "text/plain")

    def _calendar(self, year: int, month: int) -> None:
        following = (year + month // 12, month % 12 + 1)
        previous = (year - (month == 1), (month - 2) % 12 + 1)
        self._send(
            200,
            _html(
                f"Calendar {year}-{month:02d}",
                f'<a href="/calendar/{following[0]}/{following[1]}">next</a>'
                f'<a href="/calendar/{previous[0]}/{previous[1]}">previous</a>',
            ),
            "text/html",
        )

    def _slow(self, _: int) -> None:
        if not self.owner._stopping.wait(self.owner.slow_s):
            self._send(200, _html("Slow", ""), "text/html")

    def _trickle(self, _: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        deadline = time.monotonic() + self.owner.trickle_s
        try:
            while time.monotonic() < deadline and not self.owner._stopping.wait(0.05):
                self.wfile.write(b"<")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _huge(self, _: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"<p>" + b"x" * (_CHUNK - 3)
        try:
            for _sent in range(self.owner.huge_bytes // _CHUNK):
                if self.owner._stopping.is_set():
                    break
                self.wfile.write(chunk)
        except OSError:
            pass

    def _huge_declared(self, _: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(10 * 1024**3))
        self.end_headers()
        self.close_connection = True

    def _etag(self, _: int) -> None:
        tag = '"v1"'
        if self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(
            200,
            _html("Tagged", ""),
            "text/html",
            {"ETag": tag, "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
        )
