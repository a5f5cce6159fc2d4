from __future__ import annotations

from bench.licensing import run_licensing_benchmark


def test_reports_its_figures_under_their_names() -> None:
    figures = run_licensing_benchmark(executions=200, chain_runs=2)
    assert figures["split_executions_per_s"] > 0
    assert figures["derivative_chain_10_levels_ms"] > 0
