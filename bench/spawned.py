"""Benchmark workers in spawned processes, started together and gathered against a deadline.

Spawned, not forked: each worker is a fresh interpreter with no inherited ONNX Runtime, FAISS or
database state. A worker is called as `worker(*job, barrier, results)`; it waits at the barrier
(so all start measuring at once) and puts one report on `results`, or a string saying why it
failed, after aborting the barrier so the others stop waiting.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Report = TypeVar("Report")


class SpawnedWorkerError(RuntimeError):
    """A spawned worker died, failed, or reported nothing in time."""


def run_spawned(
    worker: Callable[..., None],
    jobs: Sequence[tuple[Any, ...]],
    report: type[Report],
    *,
    name: str,
    timeout_s: float,
) -> list[Report]:
    """Run one spawned process per job; returns their reports in the order they arrived."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    results: multiprocessing.Queue[object] = context.Queue()
    processes = [context.Process(target=worker, args=(*job, barrier, results)) for job in jobs]
    for process in processes:
        process.start()
    reports: list[Report] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(reports) < len(jobs):
            try:
                outcome = results.get(timeout=1.0)
            except queue.Empty:
                # A worker that died before it could report (killed, or failed to start).
                failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if failed:
                    raise SpawnedWorkerError(f"a {name} exited with code {failed[0]}") from None
                if time.monotonic() > deadline:
                    raise SpawnedWorkerError(f"a {name} reported nothing in time") from None
                continue
            if not isinstance(outcome, report):
                raise SpawnedWorkerError(f"a {name} failed: {outcome}")
            reports.append(outcome)
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    return reports
