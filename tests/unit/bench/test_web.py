"""The web benchmark serves a scratch home with the real `copymark serve` and counts answers."""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from PIL import Image

from bench.registration import distinct_jpegs
from bench.web import WORK_SIZE, run_web_benchmark


def test_a_short_run_answers_every_request_and_reports_its_figures(model_cache: Path) -> None:
    figures = run_web_benchmark(
        [sys.executable, "-m", "frontend.cli"], model_cache, seconds=3, searchers=3, uploaders=1
    )
    assert figures["responses_5xx"] == 0
    assert figures["unanswered"] == 0
    assert figures["match_sent"] >= 1
    assert figures["match_sent"] == (
        figures["match_answered_2xx"]
        + figures["match_refused_429_503"]
        + figures["match_other_4xx"]
    )
    assert figures["healthz_samples"] > 0
    assert figures["healthz_failures"] == 0
    assert 0 < figures["baseline_healthz_p50_ms"] <= figures["baseline_healthz_p99_ms"]
    assert figures["server_peak_rss_mib"] > 0


def test_the_works_are_ordinary_800_by_600_images() -> None:
    (data,) = distinct_jpegs(1, size=WORK_SIZE)
    with Image.open(BytesIO(data)) as image:
        assert image.size == (800, 600)
