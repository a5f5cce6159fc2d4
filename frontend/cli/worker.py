"""`copymark worker`: run background tasks from the Celery broker the settings name."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from frontend.services import Services
    from registry.tasks.queue import TaskKinds

ALL_QUEUES = "fingerprint,crawl,evidence,notify,settlement"


def worker(
    queues: Annotated[str, typer.Option(help="comma-separated queues to take tasks from")] = (
        ALL_QUEUES
    ),
    concurrency: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Run tasks from COPYMARK_TASK_BROKER_URL (Celery on Redis) until stopped."""
    from frontend.tasks import task_kinds

    wiring = services()
    if not wiring.settings.task_broker_url:
        stderr.print("set COPYMARK_TASK_BROKER_URL (redis://host:port/db) to run a worker")
        raise typer.Exit(2)
    # One monitor per worker process, built on its first crawl, after the fork: ONNX Runtime
    # sessions and database connections must not cross a fork.
    monitor = functools.cache(wiring.monitor)
    run_worker(wiring, task_kinds(wiring, monitor), queues, concurrency)


def run_worker(wiring: Services, kinds: TaskKinds, queues: str, concurrency: int) -> None:
    """Start a Celery worker on these kinds; returns when the worker stops."""
    from frontend.tasks import celery_for

    app = celery_for(wiring, kinds, runs_tasks=True)
    app.worker_main(
        ["worker", "--queues", queues, "--concurrency", str(concurrency), "--loglevel", "INFO"]
    )
