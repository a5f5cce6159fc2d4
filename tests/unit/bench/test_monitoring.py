"""The monitoring benchmark runs end to end on a tiny set and reports its figures with units."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.monitoring import run_crawl_benchmark
from bench.similarity.dataset import BenchmarkSize
from frontend.cli.scratch import scratch_app
from similarity.augment import FAMILIES


@pytest.mark.slow
def test_a_tiny_benchmark_reports_throughput_precision_and_recall(
    tmp_path: Path, model_cache: Path
) -> None:
    figures = run_crawl_benchmark(
        tmp_path,
        scratch_app(model_cache),
        BenchmarkSize(references=4, queries_per_family=1, distractors=4),
        crawler_pages=20,
    )
    assert figures["images"] == len(FAMILIES) + 4
    assert set(figures["recall_by_family"]) == set(FAMILIES)
    assert figures["images_per_s"] > 0
    assert 0.0 <= figures["precision"] <= 1.0
    assert 0.0 <= figures["recall"] <= 1.0
    assert figures["pages_per_s"] > 0
    assert figures["crawler_disallowed_requests"] == 0
