"""Eight writer processes append through `copymark log sequence`; killing it loses nothing.

Every writer submits leaves and waits for their indexes. The sequencer holding the lease is
killed with SIGKILL while writers are waiting; a standby sequencer takes the lease over. In the
end every index below the tree size was given to exactly one leaf and `copymark log verify`
passes. `copymark register` with the log sequenced prints the index the sequencer gave, or says
the entry is pending when no sequencer appended it in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench.processes import cli, index_problems, run_writers, tree_size
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import random_png

WRITERS = 8
PER_WRITER = 40
GROUP = 4

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_database_url: str) -> str:
    """PostgreSQL only: the sequencer's lease is an advisory lock."""
    return postgres_database_url


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "COPYMARK_HOME": str(settings.home),
        "COPYMARK_DATABASE_URL": settings.resolved_database_url,
        "COPYMARK_ENVIRONMENT": "test",
    }


def wait_until(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_writers_lose_nothing_when_the_sequencer_is_killed(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    url = settings.resolved_database_url
    env = environment(settings)
    given: dict[int, list[int]] = {}
    writers = threading.Thread(
        target=lambda: given.update(run_writers(url, WRITERS, PER_WRITER, GROUP))
    )
    first = subprocess.Popen(cli("log", "sequence"), env=env, stderr=subprocess.DEVNULL)
    writers.start()
    try:
        wait_until(lambda: tree_size(url) >= GROUP, 180)
        standby = subprocess.Popen(cli("log", "sequence"), env=env, stderr=subprocess.DEVNULL)
        first.send_signal(signal.SIGKILL)
        first.wait()
        size_at_kill = tree_size(url)
        writers.join(timeout=600)
        assert not writers.is_alive(), "writers still waiting: no sequencer took over"
    finally:
        first.kill()
        first.wait()
    standby.send_signal(signal.SIGTERM)
    assert standby.wait(timeout=60) == 0
    size = tree_size(url)
    assert size == WRITERS * PER_WRITER
    assert size_at_kill < size, "the standby sequencer appended after the kill"
    assert index_problems(given, size) == {"duplicates": 0, "gaps": 0}
    assert sorted(len(indexes) for indexes in given.values()) == [PER_WRITER] * WRITERS
    verified = subprocess.run(
        cli("log", "verify", "--json"), env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


def test_register_prints_the_index_the_sequencer_gave_or_that_it_is_pending(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    env = {
        **environment(settings),
        "COPYMARK_LOG_SEQUENCED": "true",
        "COPYMARK_MODELS_DIR": str(settings.models_dir),
    }

    def register(
        name: str, seed: int, wait_s: int, *flags: str
    ) -> subprocess.CompletedProcess[str]:
        (tmp_path / name).write_bytes(random_png(seed))
        return subprocess.run(
            cli("register", str(tmp_path / name), "--owner", "ada@example.com", *flags),
            env={**env, "COPYMARK_LOG_SEQUENCED_WAIT_S": str(wait_s)},
            capture_output=True,
            text=True,
            check=True,
        )

    subprocess.run(
        cli("user", "create", "ada@example.com", "--password", "long enough"),
        env=env,
        check=True,
        capture_output=True,
    )
    assert "log entry pending" in register("first.png", 1, 1).stderr
    sequencer = subprocess.Popen(cli("log", "sequence"), env=env, stderr=subprocess.DEVNULL)
    try:
        (line,) = register("second.png", 2, 120, "--json").stdout.splitlines()
    finally:
        sequencer.send_signal(signal.SIGTERM)
        assert sequencer.wait(timeout=60) == 0
    # The sequencer appended the waiting work's leaf first, then the second's.
    assert json.loads(line)["log_index"] == 1
    assert tree_size(settings.resolved_database_url) == 2
