"""The throughput part of `bench scale` registers every work once and times the steady state."""

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
    """The runs of 16 works with each count of workers; skipped (or failed) without Redis."""
    figures = registration_throughput_figures(
        postgres.url(),
        folder,
        works=16,
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
        assert (run["works_registered"], run["works_registered_twice"]) == (16, 0)
        # Every worker's first task is before the clock: at least 4 works each, at most all but 4.
        assert 0 < run["works_timed"] <= 16 - 4 * run["workers"]
        assert run["works_per_s"] > 0
        assert run["worker_cpu_s_per_work"] > 0
        assert run["log_verify_ok"]


def test_workers_registering_through_the_log_sequencer_give_every_work_one_index(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    (run,) = measured(postgres, tmp_path, (2,), "sequenced")
    assert (run["log"], run["workers"]) == ("sequenced", 2)
    assert (run["works_registered"], run["works_registered_twice"]) == (16, 0)
    assert run["works_with_log_index"] == 16
    assert 0 < run["works_timed"] <= 16 - 4 * 2
    assert run["log_verify_ok"]
