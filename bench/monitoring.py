"""Monitoring end to end: crawl a generated site of copies and distractors, count the alerts.

The site is the copy-detection benchmark set (`bench.similarity.dataset`) served from a
separate process: its references are registered as works, and its queries (copies of the
references by every copy family, plus unregistered distractors) are embedded in pages, a few
per page, all linked from the home page. A job then crawls it with screenshots off (Chromium
would dominate the time and is not what is measured) and everything else as deployed:
decode, fingerprint, search, ORB verification, alert, evidence bundle and log leaf. The app's
services on a scratch home come from the caller (`bench.wiring`), so the monitor, registrar
and database are wired exactly as `copymark serve` wires them.

Figures: `images_per_s` (images fingerprinted and matched per second of crawl, alerts and
evidence included), alert `precision` (alerts naming the work the image copies) and `recall`
(copies that raised the right alert), per family, and `pages_per_s` from the crawler engine's
own benchmark.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import secrets
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from sqlmodel import select

from bench.crawl import run_benchmark as run_crawler_benchmark
from bench.similarity.dataset import BenchmarkSet, BenchmarkSize, build_benchmark
from bench.wiring import AppServices, ScratchApp
from registry.accounts.service import create_user
from registry.db import unit_of_work
from registry.models import persisted_id
from registry.monitoring.models import Alert
from registry.monitoring.screenshots import NoScreenshots
from registry.monitoring.service import create_job
from registry.schemas import WorkMetadata
from registry.service import Upload
from similarity.crawl.politeness import HostPoliteness

DEFAULT_SIZE: Final = BenchmarkSize(references=40, queries_per_family=4, distractors=80)
IMAGES_PER_PAGE: Final = 6


def _serve(root: str, names: list[str], port_out: Any) -> None:
    pages = [
        names[start : start + IMAGES_PER_PAGE] for start in range(0, len(names), IMAGES_PER_PAGE)
    ]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Silent."""

        def do_GET(self) -> None:
            body, content_type = b"not found", "text/plain"
            if self.path == "/":
                links = "".join(
                    f'<a href="/p/{number}">{number}</a>' for number in range(len(pages))
                )
                body, content_type = (
                    f"<!doctype html><html><body>{links}</body></html>".encode(),
                    "text/html",
                )
            elif self.path.startswith("/p/") and self.path[3:].isdigit():
                number = int(self.path[3:])
                if number < len(pages):
                    images = "".join(f'<img src="/q/{name}">' for name in pages[number])
                    body = f"<!doctype html><html><body>{images}</body></html>".encode()
                    content_type = "text/html"
            elif self.path.startswith("/q/") and self.path[3:] in names:
                body, content_type = (Path(root) / self.path[3:]).read_bytes(), "image/png"
            self.send_response(200 if content_type != "text/plain" else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


def run_crawl_benchmark(
    cache_dir: Path,
    app: ScratchApp,
    size: BenchmarkSize = DEFAULT_SIZE,
    *,
    seed: int = 0,
    crawler_pages: int = 300,
) -> dict[str, Any]:
    """Register the set's references, crawl its queries, and score the alerts."""
    benchmark = build_benchmark(cache_dir / "sets", size, seed=seed)
    with tempfile.TemporaryDirectory() as scratch, app(Path(scratch) / "home") as services:
        figures = _measure(benchmark, services)
    crawler = run_crawler_benchmark(pages=crawler_pages)
    figures["pages_per_s"] = crawler["pages_per_s"]
    figures["crawler_disallowed_requests"] = crawler["disallowed_requests"]
    return figures


def _measure(benchmark: BenchmarkSet, services: AppServices) -> dict[str, Any]:
    registrar = services.registrar
    work_of_reference: dict[int, int] = {}
    with unit_of_work(services.session) as unit:
        owner = create_user(unit, email="bench@example.com", password=secrets.token_urlsafe())
        for reference in benchmark.references:
            outcome = registrar.register(
                unit,
                owner,
                Upload(reference.path.read_bytes(), reference.path.name, WorkMetadata()),
            )
            work_of_reference[reference.work_id] = persisted_id(outcome.work)
    monitor = services.monitor(
        screenshots=lambda _guard: NoScreenshots("benchmark"),
        politeness=lambda: HostPoliteness(per_host_concurrency=8, delay_s=0.0),
    )
    names = [query.path.name for query in benchmark.queries]
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    server = context.Process(
        target=_serve, args=(str(benchmark.root / "queries"), names, port_queue), daemon=True
    )
    server.start()
    try:
        port = port_queue.get(timeout=30)
        pages = 1 + -(-len(names) // IMAGES_PER_PAGE)
        with unit_of_work(services.session) as unit:
            job = create_job(unit, None, [f"http://127.0.0.1:{port}/"], pages, ["127.0.0.1"])
        job_id = persisted_id(job)
        started = time.perf_counter()
        finished = asyncio.run(monitor.run_job(job_id))
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.join(timeout=10)
    with services.session() as unit:
        alerts = unit.exec(select(Alert)).all()
    return {
        "references": len(benchmark.references),
        "images": finished.images_checked,
        "pages": finished.pages_fetched,
        "seconds": round(seconds, 2),
        "images_per_s": round(finished.images_checked / seconds, 1),
        **_scores(benchmark, alerts, work_of_reference),
    }


def _scores(
    benchmark: BenchmarkSet, alerts: Sequence[Alert], work_of_reference: dict[int, int]
) -> dict[str, Any]:
    expected = {
        query.path.name: work_of_reference[query.reference_id]
        for query in benchmark.queries
        if query.reference_id is not None
    }
    family_of = {query.path.name: query.family for query in benchmark.queries}
    alerted: dict[str, set[int]] = defaultdict(set)
    for alert in alerts:
        alerted[alert.image_url.rsplit("/", 1)[-1]].add(alert.work_id)
    correct = sum(
        1 for name, works in alerted.items() for work in works if expected.get(name) == work
    )
    raised = sum(len(works) for works in alerted.values())
    found = {name for name, work in expected.items() if work in alerted.get(name, set())}
    per_family: dict[str, dict[str, int]] = defaultdict(lambda: {"copies": 0, "found": 0})
    for name in expected:
        per_family[family_of[name]]["copies"] += 1
        per_family[family_of[name]]["found"] += name in found
    return {
        "alerts": raised,
        "precision": round(correct / raised, 3) if raised else 1.0,
        "recall": round(len(found) / len(expected), 3) if expected else 1.0,
        "false_alerts_on_distractors": sum(
            len(works) for name, works in alerted.items() if name not in expected
        ),
        "recall_by_family": {
            family: round(counts["found"] / counts["copies"], 2)
            for family, counts in sorted(per_family.items())
        },
    }
