"""The hash-only registration baseline runs on the app's wiring and reports works per second."""

from __future__ import annotations

from pathlib import Path

from bench.registration import distinct_jpegs, registration_hash_only
from frontend.cli.scratch import scratch_app


def test_the_hash_only_baseline_reports_works_per_second(model_cache: Path) -> None:
    figures = registration_hash_only(scratch_app(model_cache), count=3)
    assert figures["hash_only_register_works_per_s"] > 0


def test_the_benchmark_images_are_distinct_and_reproducible() -> None:
    images = distinct_jpegs(4, seed=1)
    assert len(set(images)) == 4
    assert distinct_jpegs(4, seed=1) == images
