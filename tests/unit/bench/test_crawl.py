"""The crawl benchmark reports its figures and keeps robots.txt while going fast."""

from bench.crawl import run_benchmark


def test_benchmark_reports_throughput_without_disallowed_or_refused_requests() -> None:
    figures = run_benchmark(pages=60, workers=4)
    assert figures["pages"] == 60
    assert figures["pages_per_s"] > 0
    assert figures["disallowed_requests"] == 0
    assert figures["refused_requests"] == 0
