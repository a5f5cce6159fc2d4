"""`copymark serve --workers 2`: two processes answer on one port, exactly one of them holds the
home's background lock, and when that one is killed the process started in its place takes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from frontend.lifespan import BACKGROUND_LOCK
from tests.support.receivers import free_port

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def lock_holders(lock: Path) -> set[int]:
    """The processes holding an flock on `lock`, from the kernel's own table."""
    inode = lock.stat().st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "FLOCK" in fields and fields[-3].split(":")[-1] == str(inode):
            holders.add(int(fields[-4]))
    return holders


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    home = tmp_path / "home"
    port = free_port()
    environment = os.environ | {
        "COPYMARK_HOME": str(home),
        "COPYMARK_DATABASE_URL": "",
        "COPYMARK_SECRET_KEY": "two-processes",
        "COPYMARK_STRIPE_API_KEY": "sk_test_not_used",
        "COPYMARK_RUN_WATCHES": "0",
    }
    command = [sys.executable, "-m", "frontend.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(base_url), 180, "the server to answer")
        yield base_url, home / BACKGROUND_LOCK, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_one_of_two_processes_runs_the_background_work_and_a_replacement_takes_it_over(
    served: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base_url, lock, server = served
    wait_for(lambda: len(lock_holders(lock)) == 1, 120, "one process to take the lock")
    (leader,) = lock_holders(lock)
    children = {
        int(pid)
        for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    }
    assert leader in children

    os.kill(leader, signal.SIGKILL)
    wait_for(
        lambda: lock_holders(lock) not in (set(), {leader}),
        180,
        "the replacement process to take the lock",
    )
    (successor,) = lock_holders(lock)
    assert successor != leader
    assert answers(base_url)
