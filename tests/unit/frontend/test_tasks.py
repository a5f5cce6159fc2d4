"""The app's background work: which task kinds every serving process ticks."""

from __future__ import annotations

from pathlib import Path

from frontend.services import Services
from frontend.settings import Settings
from frontend.tasks import task_kinds
from registry.monitoring.jobs import Monitor


def test_deliveries_reminders_expiries_payouts_and_feed_pruning_are_ticked_crawls_are_not(
    tmp_path: Path,
) -> None:
    def no_monitor() -> Monitor:
        raise AssertionError("listing the task kinds built a monitor")

    kinds = task_kinds(Services(Settings(home=tmp_path)), no_monitor)
    assert {kind.name for kind in kinds.periodic()} == {
        "notify",
        "case_reminders",
        "expire_grants",
        "pay_out",
        "prune_index_changes",
    }
    assert "crawl" in kinds
    assert kinds["evidence"].queue == "evidence"
    # Money moves on workers of its own, apart from mail delivery's retries and digests.
    assert kinds["pay_out"].queue == "settlement"
    assert kinds["notify"].queue == "notify"
    assert all(kind.period_s is not None and kind.period_s > 0 for kind in kinds.periodic())
