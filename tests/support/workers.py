"""Real Celery worker processes for tests: started on one broker and database, killed at will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE_WORKER = ("-m", "tests.support.celery_worker")


class Workers:
    """Starts worker processes on one broker and database; kills any still running at the end."""

    def __init__(
        self,
        broker_url: str,
        database_url: str,
        home: Path,
        *,
        visibility_timeout_s: float,
        arguments: tuple[str, ...] = PROBE_WORKER,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.environment = os.environ | {
            "COPYMARK_HOME": str(home),
            "COPYMARK_DATABASE_URL": database_url,
            "COPYMARK_TASK_BROKER_URL": broker_url,
            "COPYMARK_TASK_VISIBILITY_TIMEOUT_S": str(visibility_timeout_s),
            "PYTHONPATH": str(ROOT),
            **(environment or {}),
        }
        self.arguments = arguments
        self.logs = home
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"worker-{len(self.running)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, *self.arguments, *extra],
                cwd=ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool children at once: nothing gets to acknowledge."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log_tails(self) -> str:
        """The end of every worker's log, for a failure message."""
        tails = []
        for number in range(len(self.running)):
            lines = (self.logs / f"worker-{number}.log").read_text(errors="replace").splitlines()
            tails.append(f"--- worker {number}\n" + "\n".join(lines[-15:]))
        return "\n".join(tails)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                self.kill(process)


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    context: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{context()}")
