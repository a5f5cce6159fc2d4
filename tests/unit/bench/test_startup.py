"""The start-up benchmark starts one new machine from the snapshot and one without, and both
answer the same first search."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.startup import startup_figures
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


def test_one_new_machine_starts_from_the_snapshot_and_the_other_from_the_database(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = startup_figures(postgres.url(), tmp_path, works=60)
    assert figures["snapshot"]["works"] == 60
    assert figures["registered_after_the_snapshot"] == 1
    assert figures["works"] == figures["works_real"] + figures["works_synthetic"] == 61
    without = figures["first_search_without_snapshot"]
    with_snapshot = figures["first_search_from_snapshot"]
    assert without["logged_snapshot_unreadable"]
    assert not with_snapshot["logged_snapshot_unreadable"]
    # Measured per process: the model and an index are resident in each.
    assert without["max_rss_mb"] > 100
    assert with_snapshot["max_rss_mb"] > 100
    assert figures["snapshot"]["build_max_rss_mb"] > 100
    assert (
        without["best_match"] == with_snapshot["best_match"] == {"work_id": 1, "decision": "copy"}
    )
