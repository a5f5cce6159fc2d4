"""The payment simulation at a small size: its invariants hold for several seeds, and a seed
replays the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from bench.settlement_simulation import run_payment_simulation
from registry.db import make_engine
from registry.log.signing import LogSigner


def sessions_of(engine: Engine) -> Callable[[], Session]:
    return lambda: Session(engine, expire_on_commit=False)


@pytest.mark.parametrize("seed", [3, 17])
def test_duplicated_reordered_replayed_forged_webhooks_and_killed_workers_leave_it_exact(
    db_engine: Engine, seed: int
) -> None:
    report = run_payment_simulation(
        sessions_of(db_engine), LogSigner.generate(), payments=80, seed=seed, kill_rate=0.2
    )
    assert report.payments == 80
    assert 0 < report.succeeded < 80
    assert report.kills > 0
    assert report.duplicates > 0


def test_the_same_seed_replays_the_same_run(tmp_path: Path) -> None:
    reports = []
    for name in ("first", "second"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        SQLModel.metadata.create_all(engine)
        report = run_payment_simulation(
            sessions_of(engine), LogSigner.generate(), payments=25, seed=9, kill_rate=0.2
        )
        reports.append(replace(report, seconds=0.0))
        engine.dispose()
    assert reports[0] == reports[1]
    assert reports[0].kills > 0
