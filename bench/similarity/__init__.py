"""Copy-detection benchmarks: two DISC21-style sets, the open-world false-copy rate, baselines.

`run_benchmark(cache_dir, size)` returns figures with unit-bearing names: the DISC21-style set's
at the top level (`full_muap`, `phash_recall_at_p90`, `per_family`, `queries_per_s`, ...), the
held-out set's (`bench.similarity.heldout`: sources the engine never sees) with the same names
under `heldout`, and the engine's verdicts on never-registered images at several registry sizes
under `open_world`. pHash, PDQ and two SSCD baselines run beside the engine in the same run.
`render_table(figures)` shows them; `precision_recall_curve(predictions, ground_truth)` gives
the points to draw.
"""

from bench.similarity.dataset import FULL_SIZE, QUICK_SIZE, BenchmarkSize, build_benchmark
from bench.similarity.heldout import (
    HELDOUT_FULL_SIZE,
    HELDOUT_QUICK_SIZE,
    HeldoutSize,
    build_heldout,
)
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
    "HELDOUT_FULL_SIZE",
    "HELDOUT_QUICK_SIZE",
    "QUICK_SIZE",
    "BenchmarkSize",
    "HeldoutSize",
    "PrecisionRecallCurve",
    "Prediction",
    "build_benchmark",
    "build_heldout",
    "micro_average_precision",
    "precision_recall_curve",
    "recall_at_precision",
    "render_table",
    "run_benchmark",
]
