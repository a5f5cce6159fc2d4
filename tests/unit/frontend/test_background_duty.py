"""One process of those sharing a home runs the background work; alone, a process always does."""

from __future__ import annotations

from pathlib import Path

from frontend.lifespan import background_duty
from frontend.settings import Settings


def _settings(home: Path, *, shared: bool) -> Settings:
    return Settings(home=home, shared_serving=shared)


def test_of_processes_sharing_a_home_only_the_lock_holder_runs_the_background_work(
    tmp_path: Path,
) -> None:
    shared = _settings(tmp_path / "home", shared=True)
    with background_duty(shared) as first, background_duty(shared) as second:
        assert (first, second) == (True, False)
    with background_duty(shared) as after_the_holder_left:
        assert after_the_holder_left


def test_a_process_alone_on_its_home_always_runs_the_background_work(tmp_path: Path) -> None:
    alone = _settings(tmp_path, shared=False)
    with background_duty(alone) as first, background_duty(alone) as second:
        assert (first, second) == (True, True)
    assert not (tmp_path / "background.lock").exists()
