"""The fault phases of `bench scale` kill what they say and report what happened after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.background_faults import redis_restart_figures, s3_outage_figures
from bench.faults import crawler_kill_figures, sequencer_kill_figures
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


def test_the_log_loses_nothing_when_its_sequencer_is_killed(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = sequencer_kill_figures(postgres.url(), tmp_path, leaves=240, writers=4)
    assert figures["leaves"] == 240
    assert 80 <= figures["leaves_before_the_kill"] < 240
    assert (figures["gaps"], figures["duplicates"], figures["leaves_lost"]) == (0, 0, 0)
    assert figures["log_verify_ok"]
    assert figures["stalled_s"] >= figures["replacement_started_after_s"]


def test_a_killed_crawlers_hosts_are_taken_over_and_every_page_fetched_politely(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    figures = crawler_kill_figures(postgres.url(), tmp_path, pages=32)
    assert figures["pages_never_fetched"] == 0
    assert figures["frontier_left_pending_or_leased"] == 0
    assert figures["crawlers_failed"] == 0
    assert figures["politeness_violations"] == 0
    assert figures["hosts_held_by_the_killed_crawler"] >= 1
    assert figures["of_them_taken_over"] == figures["hosts_held_by_the_killed_crawler"]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One exported embedding model for both registration phases' workers."""
    return tmp_path_factory.mktemp("models")


def ran(figures: dict[str, Any], requirement: str) -> dict[str, Any]:
    """The phase's figures; a skip where its server is missing and the run does not require it."""
    if "skipped" in figures:
        if os.environ.get(requirement) == "required":
            pytest.fail(figures["skipped"])
        pytest.skip(figures["skipped"])
    return figures


def assert_every_work_registered_once_across_the_fault(figures: dict[str, Any], works: int) -> None:
    assert figures["works_registered"] == figures["works_expected"] == works
    assert (figures["works_lost"], figures["works_registered_twice"]) == (0, 0)
    assert figures["registration_leaves_twice"] == 0
    assert figures["outbox_tasks_not_completed"] == 0
    assert figures["works_with_their_blob_missing"] == 0
    assert figures["log_verify_ok"]
    assert works // 3 <= figures["works_registered_before_the_fault"] < works
    assert figures["works_registered_after_the_fault"] > 0


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.faults
def test_a_redis_restart_mid_registration_loses_no_work_and_registers_none_twice(
    postgres: PostgresCluster, tmp_path: Path, models_dir: Path
) -> None:
    figures = ran(
        redis_restart_figures(postgres.url(), tmp_path, works=24, models_dir=models_dir),
        "COPYMARK_TEST_REDIS",
    )
    assert figures["tasks_queued"] == 6
    assert_every_work_registered_once_across_the_fault(figures, works=24)
    assert 0 < figures["server_down_s"] <= figures["stalled_s"]


@pytest.mark.redis
@pytest.mark.s3
@pytest.mark.slow
@pytest.mark.faults
def test_an_s3_outage_mid_registration_loses_no_work_and_no_blob(
    postgres: PostgresCluster, tmp_path: Path, models_dir: Path
) -> None:
    figures = ran(
        s3_outage_figures(postgres.url(), tmp_path, works=24, models_dir=models_dir, outage_s=2),
        "COPYMARK_TEST_S3",
    )
    assert_every_work_registered_once_across_the_fault(figures, works=24)
    assert figures["server_down_s"] >= 2
    assert figures["stalled_s"] >= figures["server_down_s"]
