"""Sharded vector search against exact search, on vectors made chunk by chunk."""

from __future__ import annotations

import pytest

import bench.scale
from bench.scale import vector_figures


def test_probing_every_list_finds_the_exact_top_ten_across_chunks_and_shards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench.scale, "VECTOR_CHUNK", 1_000)
    figures = vector_figures(works=500, vectors=6_500, shards=3, queries=20, nprobe=10_000)
    assert figures["layout_per_shard"].endswith(",Flat")
    assert figures["recall_at_10"] == 1.0
    assert figures["nearest_in_top_10"] == 1.0


def test_probing_a_few_lists_still_finds_each_near_copys_source() -> None:
    figures = vector_figures(works=500, vectors=20_000, shards=2, queries=40)
    lists = int(figures["layout_per_shard"][3:].split(",")[0])
    assert figures["nprobe"] < lists
    assert figures["nearest_in_top_10"] == 1.0
    # Flat lists keep every vector whole: 4 bytes a dimension, and its id.
    assert figures["bytes_per_vector"] > 4 * figures["dim"]
