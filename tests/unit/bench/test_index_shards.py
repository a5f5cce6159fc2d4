"""The shards part of `bench scale` searches the index in shard processes and in one piece, and
both answer every query alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.index_shards import index_shard_figures
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


def test_one_and_two_shard_processes_hold_every_work_once_and_answer_as_the_whole_index(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = index_shard_figures(postgres.url(), tmp_path, 200, shard_counts=(1, 2), queries=6)
    assert figures["works"] == figures["works_real"] + figures["works_synthetic"] == 200
    assert figures["queries"] == 6
    assert figures["queries_copies_of_real_works"] + figures["queries_never_registered"] == 6
    assert figures["unsharded"]["works_held"] == 200
    assert figures["unsharded"]["build_s"] > 0
    assert [run["shards"] for run in figures["sharded"]] == [1, 2]
    for run in [figures["unsharded"], *figures["sharded"]]:
        assert 0 < run["search_p50_ms"] <= run["search_p99_ms"]
        assert run["searches_per_s"] > 0
    for run in figures["sharded"]:
        processes = run["shard_processes"]
        assert [process["shard"] for process in processes] == [
            f"{number}/{run['shards']}" for number in range(run["shards"])
        ]
        assert sum(process["works"] for process in processes) == run["works_held"] == 200
        assert run["ready_s"] > 0
        # Each holds the embedding model and its part of the index.
        assert all(process["peak_rss_mb"] > 100 for process in processes)
        assert all(process["cpu_s_to_ready"] > 0 for process in processes)
        assert run["queries_differing_from_unsharded"] == 0
        assert run["queries_differing_in_copies_or_possibles"] == 0
        for seen in ("copies_found_of_their_original", "never_registered_decided_copy"):
            assert run[seen] == figures["unsharded"][seen]
    # At 200 works every index scans all its rows, where the answers must be equal.
    assert figures["unsharded_searches_exactly"] is True
    assert figures["unsharded"]["copies_found_of_their_original"] >= 1
