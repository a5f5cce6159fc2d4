"""The fault phases of `bench scale` kill what they say and report what happened after."""

from __future__ import annotations

from pathlib import Path

import pytest

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
