"""The web server under load: concurrent searches and uploads against `copymark serve`.

The server is the real command, started by the caller's command line on a scratch home and a
loopback port, in a process of its own, so the load generator never shares its interpreter. A
user with an API key registers a few ordinary 800×600 works; then, for `seconds`, `searchers`
clients send recompressed copies of them to `POST /api/v1/match` and `uploaders` clients send
new images to `POST /api/v1/works`, each as fast as it is answered (a refused client waits what
Retry-After says, as a well-behaved client does), while `/healthz` is polled every 50 ms.

Figures: 5xx answers (target 0); `/healthz` p50/p99 under load (target p99 ≤ 200 ms) against
the same with no load, measured first in the same run (the baseline); requests sent, answered
(2xx), refused (429/503 with Retry-After) and unanswered (target 0: every accepted request is
answered); search latency and throughput; the server's peak resident memory.
"""

# ruff: noqa: S603 - the benchmark runs our own CLI with throw-away credentials

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
from PIL import Image

from bench.processes import memory_mib
from bench.registration import distinct_jpegs
from bench.servers import free_port

WORK_SIZE: Final = (800, 600)
STARTUP_S: Final = 300.0
REQUEST_TIMEOUT_S: Final = 60.0
HEALTH_EVERY_S: Final = 0.05
BASELINE_S: Final = 5.0
REGISTERED_WORKS: Final = 6
PASSWORD: Final = "bench-password-long"  # noqa: S105 - a throw-away account


@dataclass
class Tally:
    """What one kind of request got back."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    accepted_ms: list[float] = field(default_factory=list)

    def figures(self, prefix: str, seconds: float) -> dict[str, Any]:
        answered = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        refused = self.statuses[429] + self.statuses[503]
        return {
            f"{prefix}_sent": self.sent,
            f"{prefix}_answered_2xx": answered,
            f"{prefix}_refused_429_503": refused,
            f"{prefix}_other_4xx": sum(
                n for status, n in self.statuses.items() if 400 <= status < 500 and status != 429
            ),
            f"{prefix}_5xx": sum(
                n for status, n in self.statuses.items() if status >= 500 and status != 503
            ),
            f"{prefix}_unanswered": self.unanswered,
            f"{prefix}_per_s": answered / seconds,
            f"{prefix}_p50_ms": _percentile(self.accepted_ms, 50),
            f"{prefix}_p99_ms": _percentile(self.accepted_ms, 99),
        }


def run_web_benchmark(
    copymark: Sequence[str],
    models_dir: Path,
    *,
    seconds: float = 60.0,
    searchers: int = 16,
    uploaders: int = 4,
) -> dict[str, Any]:
    """Serve a scratch home with `copymark` and measure it under load (figures: module doc)."""
    with served_scratch_home(copymark, models_dir) as (base_url, server):
        figures = asyncio.run(_measure(base_url, seconds, searchers, uploaders))
        figures["server_peak_rss_mib"] = memory_mib(server.pid, "VmHWM")
    return figures


@contextmanager
def served_scratch_home(
    copymark: Sequence[str],
    models_dir: Path,
    prepare: Callable[[Path], None] | None = None,
    processes: int = 1,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`copymark serve --workers processes` on a free loopback port over a fresh home (`prepare`
    seeds it first): its base URL and process, stopped when the block ends."""
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory) / "home"
        environment = os.environ | {
            "COPYMARK_HOME": str(home),
            "COPYMARK_DATABASE_URL": "",
            "COPYMARK_MODELS_DIR": str(models_dir),
            "COPYMARK_SECRET_KEY": "benchmark-scratch-home",
        }
        subprocess.run([*copymark, "init"], env=environment, check=True, capture_output=True)
        if prepare is not None:
            prepare(home)
        port = free_port()
        workers = ("--workers", str(processes))
        log = (Path(directory) / "server.log").open("wb")
        server = subprocess.Popen(
            [*copymark, "serve", "--host", "127.0.0.1", "--port", str(port), *workers],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_ready(base_url, server)
            yield base_url, server
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


async def _measure(base_url: str, seconds: float, searchers: int, uploaders: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=searchers + uploaders + 4)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits
    ) as client:
        headers = await _api_key_headers(client)
        works = distinct_jpegs(REGISTERED_WORKS, seed=1, size=WORK_SIZE)
        for number, data in enumerate(works):
            response = await client.post(
                "/api/v1/works", headers=headers, files={"file": (f"work-{number}.jpg", data)}
            )
            response.raise_for_status()
        queries = [_recompressed(data, quality=55) for data in works]
        new_images = distinct_jpegs(max(8, int(seconds) * uploaders), seed=2, size=WORK_SIZE)
        alone_ms = [await _timed_match(client, headers, query) for query in queries]
        baseline = await _poll_health(base_url, time.monotonic() + BASELINE_S)
        matches, uploads = Tally(), Tally()
        deadline = time.monotonic() + seconds
        health_task = asyncio.create_task(_poll_health(base_url, deadline))
        started = time.monotonic()
        await asyncio.gather(
            *(
                _client_loop(
                    client,
                    path="/api/v1/match",
                    headers=headers,
                    images=queries,
                    offset=number,
                    deadline=deadline,
                    tally=matches,
                )
                for number in range(searchers)
            ),
            *(
                _client_loop(
                    client,
                    path="/api/v1/works",
                    headers=headers,
                    images=new_images[number::uploaders],
                    offset=0,
                    deadline=deadline,
                    tally=uploads,
                )
                for number in range(uploaders)
            ),
        )
        elapsed = time.monotonic() - started
        health = await health_task
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "searchers": searchers,
        "uploaders": uploaders,
        "clients_signed_in": True,
        "baseline_healthz_p50_ms": _percentile(baseline.latencies_ms, 50),
        "baseline_healthz_p99_ms": _percentile(baseline.latencies_ms, 99),
        "baseline_match_alone_p50_ms": _percentile(alone_ms, 50),
        "healthz_p50_ms": _percentile(health.latencies_ms, 50),
        "healthz_p99_ms": _percentile(health.latencies_ms, 99),
        "healthz_max_ms": max(health.latencies_ms, default=0.0),
        "healthz_samples": len(health.latencies_ms),
        "healthz_failures": health.failures,
    }
    figures |= matches.figures("match", elapsed) | uploads.figures("upload", elapsed)
    figures["responses_5xx"] = figures["match_5xx"] + figures["upload_5xx"]
    figures["unanswered"] = figures["match_unanswered"] + figures["upload_unanswered"]
    return figures


async def _client_loop(
    client: httpx.AsyncClient,
    *,
    path: str,
    headers: dict[str, str],
    images: list[bytes],
    offset: int,
    deadline: float,
    tally: Tally,
) -> None:
    """Send images one after another until the deadline, honouring Retry-After."""
    number = offset
    while time.monotonic() < deadline and images:
        data = images[number % len(images)]
        number += 1
        tally.sent += 1
        started = time.monotonic()
        try:
            response = await client.post(path, headers=headers, files={"file": ("f.jpg", data)})
        except httpx.HTTPError:
            tally.unanswered += 1
            continue
        tally.statuses[response.status_code] += 1
        if response.status_code in (429, 503):
            wait = float(response.headers.get("retry-after", "1"))
            await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
        elif response.status_code < 300:
            tally.accepted_ms.append((time.monotonic() - started) * 1000)


@dataclass
class _Health:
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0


async def _poll_health(base_url: str, until: float) -> _Health:
    """Poll /healthz from a thread of its own, with its own connection: the load clients'
    event loop is busy encoding uploads, and its delays are not the server's."""
    return await asyncio.to_thread(_poll_health_blocking, base_url, until)


def _poll_health_blocking(base_url: str, until: float) -> _Health:
    health = _Health()
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            health.latencies_ms.append((time.monotonic() - started) * 1000)
            health.failures += 0 if ok else 1
            time.sleep(HEALTH_EVERY_S)
    return health


async def _timed_match(client: httpx.AsyncClient, headers: dict[str, str], data: bytes) -> float:
    started = time.monotonic()
    response = await client.post("/api/v1/match", headers=headers, files={"file": ("q.jpg", data)})
    response.raise_for_status()
    return (time.monotonic() - started) * 1000


async def _api_key_headers(client: httpx.AsyncClient) -> dict[str, str]:
    email = "bench@copymark.test"
    credentials = {"email": email, "password": PASSWORD}
    created = await client.post("/api/v1/users", json=credentials | {"roles": ["creator"]})
    created.raise_for_status()
    signed_in = await client.post("/api/v1/sessions", json=credentials)
    signed_in.raise_for_status()
    issued = await client.post(
        "/api/v1/api-keys",
        json={"name": "bench"},
        headers={"x-csrf-token": signed_in.json()["csrf_token"]},
    )
    issued.raise_for_status()
    client.cookies.clear()
    return {"Authorization": f"Bearer {issued.json()['api_key']}"}


def _recompressed(data: bytes, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _wait_until_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"copymark serve exited with status {server.returncode}")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError("copymark serve did not become ready")


def _percentile(values: Sequence[float], percent: float) -> float:
    return float(np.percentile(values, percent)) if values else 0.0
