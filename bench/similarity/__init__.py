"""DISC21-style copy-detection benchmark: a packaged-image set, global-ranking metrics, a runner.

`run_benchmark(cache_dir, size)` returns figures with unit-bearing names (`full_muap`,
`phash_recall_at_p90`, `per_family`, `queries_per_s`, ...); `render_table(figures)` shows them;
`precision_recall_curve(predictions, ground_truth)` gives the points to draw.
"""

from bench.similarity.dataset import FULL_SIZE, QUICK_SIZE, BenchmarkSize, build_benchmark
from bench.similarity.metrics import (
    PrecisionRecallCurve,
    Prediction,
    micro_average_precision,
    precision_recall_curve,
    recall_at_precision,
)
from bench.similarity.runner import render_table, run_benchmark

__all__ = [
    "FULL_SIZE",
    "QUICK_SIZE",
    "BenchmarkSize",
    "PrecisionRecallCurve",
    "Prediction",
    "build_benchmark",
    "micro_average_precision",
    "precision_recall_curve",
    "recall_at_precision",
    "render_table",
    "run_benchmark",
]
