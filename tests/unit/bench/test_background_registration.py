"""The throughput part of `bench scale` registers every work once and times the steady state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.background_registration import registration_throughput_figures
from tests.support.postgres import PostgresCluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_one_and_two_workers_register_every_work_once_and_report_their_rate_and_cpu(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = registration_throughput_figures(
        postgres.url(),
        tmp_path,
        works=16,
        models_dir=tmp_path / "models",
        worker_counts=(1, 2),
        log_modes=("in_place",),
    )
    if "skipped" in figures:
        if os.environ.get("COPYMARK_TEST_REDIS") == "required":
            pytest.fail(figures["skipped"])
        pytest.skip(figures["skipped"])
    assert [run["workers"] for run in figures["runs"]] == [1, 2]
    for run in figures["runs"]:
        assert (run["works_registered"], run["works_registered_twice"]) == (16, 0)
        # Every worker's first task is before the clock: at least 4 works each, at most all but 4.
        assert 0 < run["works_timed"] <= 16 - 4 * run["workers"]
        assert run["works_per_s"] > 0
        assert run["worker_cpu_s_per_work"] > 0
        assert run["log_verify_ok"]


def test_workers_registering_through_the_log_sequencer_give_every_work_one_index(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = registration_throughput_figures(
        postgres.url(),
        tmp_path,
        works=16,
        models_dir=tmp_path / "models",
        worker_counts=(2,),
        log_modes=("sequenced",),
    )
    if "skipped" in figures:
        if os.environ.get("COPYMARK_TEST_REDIS") == "required":
            pytest.fail(figures["skipped"])
        pytest.skip(figures["skipped"])
    (run,) = figures["runs"]
    assert (run["log"], run["workers"]) == ("sequenced", 2)
    # The clock stops only once every work has its index, which the sequencer wrote.
    assert (run["works_registered"], run["works_registered_twice"]) == (16, 0)
    assert 0 < run["works_timed"] <= 16 - 4 * 2
    assert run["log_verify_ok"]
