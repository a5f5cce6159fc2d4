"""Crawl throughput against a generated loopback site served from a separate process.

The site runs in its own process so that serving does not compete with the crawler for the
interpreter lock. Each page links to five further pages and to a robots.txt-disallowed page,
and embeds a shared logo plus one of fifty images. The server counts requests to disallowed
paths; a correct crawl leaves that count at zero.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from similarity.crawl.crawler import CrawlConfig, Crawler, CrawlScope, ImageFound, PageFetched
from similarity.crawl.fetcher import Fetcher
from similarity.crawl.frontier import SqliteFrontierStore
from similarity.crawl.netguard import NetGuard
from similarity.crawl.politeness import HostPoliteness
from similarity.crawl.records import IssueKind, PageIssue

_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
_ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def _page(number: int) -> bytes:
    links = "".join(f'<a href="/p/{number * 5 + k}">next {k}</a>' for k in range(1, 6))
    return (
        f"<!doctype html><html><head><title>Page {number}</title>"
        f'<meta property="og:image" content="/img/{number % 50}.png"></head><body>'
        f'<img src="/img/logo.png" alt="logo"><p>{"lorem ipsum " * 40}</p>{links}'
        f'<a href="/private/{number}">private</a></body></html>'
    ).encode()


def _serve(port_out: Any, disallowed_hits: Synchronized[int]) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            """Silent."""

        def do_GET(self) -> None:
            if self.path.startswith("/private/"):
                with disallowed_hits.get_lock():
                    disallowed_hits.value += 1
            if self.path == "/robots.txt":
                body, content_type = _ROBOTS, "text/plain"
            elif self.path.startswith("/img/"):
                body, content_type = _PNG, "image/png"
            elif self.path.startswith("/p/") and self.path[3:].isdigit():
                body, content_type = _page(int(self.path[3:])), "text/html"
            else:
                body, content_type = b"not found", "text/plain"
            self.send_response(404 if body == b"not found" else 200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


async def _crawl(base_url: str, pages: int, workers: int, directory: Path) -> dict[str, float]:
    politeness = HostPoliteness(per_host_concurrency=workers, delay_s=0.0)
    guard = NetGuard(allow_hosts=["127.0.0.1"])
    seeds = (f"{base_url}/p/0",)
    config = CrawlConfig(
        seeds=seeds,
        scope=CrawlScope.of_seeds(seeds, max_depth=100, max_pages=pages),
        workers=workers,
    )
    counts = {"pages": 0, "images": 0, "refused": 0, "issues": 0}
    store = SqliteFrontierStore(directory)
    async with Fetcher(guard, politeness=politeness) as fetcher:
        started = time.perf_counter()
        async for event in Crawler(config, fetcher, store).events():
            if isinstance(event, PageFetched):
                counts["pages"] += 1
            elif isinstance(event, ImageFound):
                counts["images"] += 1
            elif isinstance(event, PageIssue):
                counts["issues"] += 1
                counts["refused"] += event.kind is IssueKind.REFUSED
        elapsed = time.perf_counter() - started
    store.close()
    return {**counts, "seconds": elapsed}


def run_benchmark(pages: int = 1000, workers: int = 8) -> dict[str, float]:
    """Crawl `pages` pages of the loopback site; figures named with their units."""
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    disallowed_hits = context.Value("i", 0)
    server = context.Process(target=_serve, args=(port_queue, disallowed_hits), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        with tempfile.TemporaryDirectory() as directory:
            figures = asyncio.run(
                _crawl(f"http://127.0.0.1:{port}", pages, workers, Path(directory))
            )
    finally:
        server.terminate()
        server.join(timeout=10)
    seconds = figures["seconds"]
    return {
        "pages": figures["pages"],
        "images": figures["images"],
        "seconds": round(seconds, 3),
        "pages_per_s": round(figures["pages"] / seconds, 1),
        "page_issues": figures["issues"],
        "disallowed_requests": disallowed_hits.value,
        "refused_requests": figures["refused"],
    }


if __name__ == "__main__":
    print(run_benchmark())
