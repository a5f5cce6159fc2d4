"""A generated web site on several loopback hosts that records when each request arrived.

Hosts are 127.0.0.2, 127.0.0.3, ... (Linux routes all of 127/8 to loopback), each served by its
own server in one separate process, so serving does not compete with the crawlers for an
interpreter lock. Page n of a host links to pages n*b+1 .. n*b+b of the same host, to page n of
the next host and to a robots.txt-disallowed page. Every request is logged as
`host <tab> monotonic seconds <tab> path` to a file, from which `politeness_violations` counts
requests to one host that came closer together than the crawl delay.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from similarity.crawl.crawler import CrawlScope


@dataclass(frozen=True)
class GridShape:
    """How many hosts, pages per host and links per page; `crawl_delay_s` goes in robots.txt."""

    hosts: int
    pages_per_host: int
    branching: int = 10
    crawl_delay_s: float | None = None

    def page_count(self) -> int:
        return self.hosts * self.pages_per_host

    @classmethod
    def reachable(cls, hosts: int, pages: int) -> GridShape:
        """About `pages` pages on `hosts` hosts, every one within the crawler's default depth."""
        pages_per_host = max(1, pages // hosts)
        depth = CrawlScope.max_depth
        branching = 2
        while sum(branching**level for level in range(depth + 1)) < pages_per_host:
            branching += 1
        return cls(hosts=hosts, pages_per_host=pages_per_host, branching=branching)


def _page(shape: GridShape, host_number: int, number: int) -> bytes:
    links = "".join(
        f'<a href="/p/{child}">page {child}</a>'
        for child in range(
            number * shape.branching + 1, number * shape.branching + 1 + shape.branching
        )
        if child < shape.pages_per_host
    )
    neighbour = 2 + (host_number - 2 + 1) % shape.hosts
    return (
        f"<!doctype html><html><head><title>Host {host_number} page {number}</title></head>"
        f"<body><p>{'lorem ipsum ' * 30}</p>{links}"
        f'<a href="http://127.0.0.{neighbour}:{{port}}/p/{number}">next host</a>'
        f'<a href="/private/{number}">private</a></body></html>'
    ).encode()


accepted: dict[int, float] = {}


class _TimedServer(ThreadingHTTPServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        accepted[id(request)] = time.monotonic()
        super().process_request(request, client_address)


def _serve(shape: GridShape, log_path: str, ports: Any) -> None:
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    robots = "User-agent: *\nDisallow: /private/\n"
    if shape.crawl_delay_s is not None:
        robots += f"Crawl-delay: {shape.crawl_delay_s}\n"
    servers = []
    port = 0
    for index in range(shape.hosts):
        host_number = index + 2
        address = f"127.0.0.{host_number}"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            number = host_number
            host = address

            def log_message(self, format: str, *args: object) -> None:
                """Silent: the request log is the record."""

            def do_GET(self) -> None:
                # A connection's first request is timed from its accept, so the time it took the
                # server to start a thread for it is not counted against the crawler.
                arrived = accepted.pop(id(self.request), None) or time.monotonic()
                os.write(log, f"{self.host}\t{arrived:.6f}\t{self.path}\n".encode())
                status, content_type, body = 404, "text/plain", b"not found"
                if self.path == "/robots.txt":
                    status, content_type, body = 200, "text/plain", robots.encode()
                elif self.path.startswith("/p/") and self.path[3:].isdigit():
                    page = int(self.path[3:])
                    if page < shape.pages_per_host:
                        html = _page(shape, self.number, page).replace(
                            b"{port}",
                            str(self.server.server_port).encode(),  # type: ignore[attr-defined]
                        )
                        status, content_type, body = 200, "text/html", html
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        # Every host listens on the same port, so one link shape reaches any of them.
        server = _TimedServer((address, port), Handler)
        port = int(server.server_address[1])
        servers.append(server)
    for server in servers[1:]:
        Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    ports.put(port)
    servers[0].serve_forever(poll_interval=0.05)


class GridSite:
    """The site in a child process; a context manager. `seeds()` are every host's first page."""

    def __init__(self, shape: GridShape, log_path: Path) -> None:
        self.shape = shape
        self.log_path = log_path
        self.port = 0
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> GridSite:
        self.log_path.write_bytes(b"")
        context = multiprocessing.get_context("spawn")
        ports: Any = context.Queue()
        self._process = context.Process(
            target=_serve, args=(self.shape, str(self.log_path), ports), daemon=True
        )
        self._process.start()
        self.port = int(ports.get(timeout=60))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()

    def hosts(self) -> list[str]:
        return [f"127.0.0.{index + 2}" for index in range(self.shape.hosts)]

    def seeds(self) -> list[str]:
        return [f"http://{host}:{self.port}/p/0" for host in self.hosts()]

    def requests(self) -> list[tuple[str, float, str]]:
        """Every request so far as (host, monotonic arrival, path), in arrival order."""
        rows = []
        for line in self.log_path.read_text().splitlines():
            host, arrived, path = line.split("\t", 2)
            rows.append((host, float(arrived), path))
        return sorted(rows, key=lambda row: row[1])

    def pages(self) -> set[tuple[str, str]]:
        """Every (host, path) page the site has."""
        return {
            (host, f"/p/{n}") for host in self.hosts() for n in range(self.shape.pages_per_host)
        }

    def pages_served(self) -> set[tuple[str, str]]:
        """The distinct (host, path) pages requested, robots.txt aside."""
        return {(host, path) for host, _, path in self.requests() if path.startswith("/p/")}


def politeness_violations(
    requests: list[tuple[str, float, str]], delay_s: float, jitter_s: float
) -> tuple[int, float]:
    """Requests to a host less than `delay_s - jitter_s` after the one before; and the least gap.

    Arrival times differ from the crawler's start times by the loopback and scheduling delay of
    each request, hence the allowance `jitter_s`.
    """
    by_host: dict[str, list[float]] = defaultdict(list)
    for host, arrived, _path in requests:
        by_host[host].append(arrived)
    violations = 0
    least = float("inf")
    for times in by_host.values():
        times.sort()
        for earlier, later in itertools.pairwise(times):
            gap = later - earlier
            least = min(least, gap)
            violations += gap < delay_s - jitter_s
    return violations, least
