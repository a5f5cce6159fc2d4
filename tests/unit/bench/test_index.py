"""Index figures at synthetic scale are reported with their units."""

from bench.index import bytes_per_work, search_latency


def test_reports_memory_per_work() -> None:
    figures = bytes_per_work(500, dim=64, regions=2)
    assert 2 * 64 <= figures["dense_bytes_per_work"] <= 2 * (64 + 8) + 64
    assert figures["hash_bytes_per_work"] >= 32


def test_reports_latency() -> None:
    figures = search_latency(500, dim=64, queries=5)
    assert figures["dense_p50_ms"] > 0
    assert figures["hash_p50_ms"] > 0
