"""The throughput part of `bench scale` warms every worker up, then registers and times every work
once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.background_registration import registration_throughput_figures
from tests.support.postgres import PostgresCluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def measured(
    postgres: PostgresCluster, folder: Path, worker_counts: tuple[int, ...], log_mode: str
) -> list[dict[str, Any]]:
    """The runs of 8 timed works with each count of workers; skipped (or failed) without Redis."""
    figures = registration_throughput_figures(
        postgres.url(),
        folder,
        works=8,
        models_dir=folder / "models",
        worker_counts=worker_counts,
        log_modes=(log_mode,),
    )
    if "skipped" in figures:
        if os.environ.get("COPYMARK_TEST_REDIS") == "required":
            pytest.fail(figures["skipped"])
        pytest.skip(figures["skipped"])
    return list(figures["runs"])


def test_one_and_two_workers_register_every_work_once_and_report_their_rate_and_cpu(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    runs = measured(postgres, tmp_path, (1, 2), "in_place")
    assert [run["workers"] for run in runs] == [1, 2]
    for run in runs:
        # Warm-up comes in rounds of one 4-work task per worker, until every worker has one done.
        assert run["works_warm_up"] > 0
        assert run["works_warm_up"] % (4 * run["workers"]) == 0
        assert run["works_timed"] == 8
        assert (run["works_registered"], run["works_registered_twice"]) == (
            run["works_warm_up"] + 8,
            0,
        )
        assert run["works_per_s"] > 0
        assert run["worker_cpu_s_per_work"] > 0
        assert run["log_verify_ok"]


def test_workers_registering_through_the_log_sequencer_give_every_work_one_index(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    (run,) = measured(postgres, tmp_path, (2,), "sequenced")
    assert (run["log"], run["workers"]) == ("sequenced", 2)
    assert run["works_timed"] == 8
    assert run["works_registered_twice"] == 0
    assert run["works_with_log_index"] == run["works_registered"] == run["works_warm_up"] + 8
    assert run["log_verify_ok"]
