"""`copymark crawl`: crawl seed URLs for copies of registered works; one JSON line per alert.

A line names the alert's first evidence bundle, logged as the copy was found. The screenshot of
the page is taken once the crawl is done, by the `evidence` tasks its new alerts queued: here, in
this process, when no broker is configured (the alert then points at the complete bundle); by
`copymark worker` processes otherwise.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import emit, fail, stderr
from frontend.cli.wiring import services as app_services

if TYPE_CHECKING:
    from frontend.services import Services
    from registry.monitoring.jobs import AlertLine, Monitor, Progress


def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="seed URLs")] = None,
    *,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="page budget")] = 100,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="host exempt from the private-address guard (repeat)"),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            min=1,
            max=64,
            help="crawler processes sharing the job's frontier (PostgreSQL only beyond 1)",
        ),
    ] = 1,
    job: Annotated[
        int | None,
        typer.Option("--job", min=1, help="join (or resume) this crawl job instead of a new one"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per alert on stdout")
    ] = False,
) -> None:
    """Crawl the seeds' sites and raise an alert, with evidence, for every copy of a work."""
    if (job is None) == (not urls):
        fail("give seed URLs, or --job ID to join a crawl job, not both", 2)
    services = app_services()
    try:
        if processes > 1 and services.engine.dialect.name == "sqlite":
            fail(
                "several crawler processes share one frontier in PostgreSQL: "
                "set COPYMARK_DATABASE_URL to a PostgreSQL database",
                2,
            )
        job_id = job if job is not None else _create(services, urls or [], max_pages, allow_host)
        if processes == 1:
            _crawl(services, job_id, as_json=as_json)
        else:
            services.close()
            _fan_out(job_id, processes, as_json=as_json)
            _check_finished(services, job_id)
    finally:
        services.close()


def _create(
    services: Services, urls: list[str], max_pages: int, allow_hosts: list[str] | None
) -> int:
    from registry.db import unit_of_work
    from registry.errors import CopymarkError
    from registry.models import persisted_id
    from registry.monitoring.service import create_job

    with unit_of_work(services.session) as session:
        try:
            created = create_job(session, None, urls, max_pages, allow_hosts or [])
        except CopymarkError as error:
            fail(error.message, 2)
        return persisted_id(created)


def _fan_out(job_id: int, processes: int, *, as_json: bool) -> None:
    """Run `processes` crawler processes on the job; they share its frontier in the database."""
    command = [sys.executable, "-m", "frontend.cli", "crawl", "--job", str(job_id)]
    if as_json:
        command.append("--json")
    stderr.print(f"crawl {job_id}: {processes} crawler processes share its frontier")
    children = [subprocess.Popen(command) for _ in range(processes)]  # noqa: S603 - our own CLI
    for child in children:
        child.wait()


def _check_finished(services: Services, job_id: int) -> None:
    from registry.monitoring.models import CrawlJob, JobStatus

    with services.session() as session:
        finished = session.get(CrawlJob, job_id)
    if finished is None or finished.status != JobStatus.FINISHED:
        status = "missing" if finished is None else f"{finished.status}: {finished.error}"
        fail(f"crawl {job_id} {status}")
    stderr.print(
        f"crawl {job_id}: pages {finished.pages_fetched}  images {finished.images_checked}  "
        f"alerts {finished.alerts}",
        highlight=False,
    )


def _crawl(services: Services, job_id: int, *, as_json: bool) -> None:
    # Deferred: monitoring needs the database, the crawler, torch/ONNX Runtime and FAISS.
    from frontend.services import NotInitialised
    from registry.monitoring.models import JobStatus

    try:
        monitor = services.monitor()
    except NotInitialised as error:
        fail(str(error))
    where = (
        "the database"
        if monitor.shared_frontier is not None
        else str(monitor.crawl_root / str(job_id))
    )
    stderr.print(f"crawl {job_id}: frontier in {where}")

    new_alerts: list[int] = []

    def alert(line: AlertLine) -> None:
        if line.new:
            new_alerts.append(line.alert_id)
        if as_json:
            emit(line.to_json())
            sys.stdout.flush()
        else:
            state = "new alert" if line.new else "seen again"
            stderr.print(
                f"{state:<10} work {line.work_id} score {line.score:+.3f} "
                f"{line.image_url} on {line.page_url} (log #{line.log_index})",
                highlight=False,
            )

    def progress(counters: Progress) -> None:
        stderr.print(
            f"pages {counters.pages_fetched}  images {counters.images_checked}  "
            f"alerts {counters.alerts}",
            highlight=False,
        )

    try:
        finished = asyncio.run(monitor.run_job(job_id, on_alert=alert, on_progress=progress))
    except LookupError as error:
        fail(str(error), 2)
    _take_screenshots(services, monitor, job_id, new_alerts)
    if finished.status != JobStatus.FINISHED:
        fail(f"crawl {job_id} {finished.status}: {finished.error}")


def _take_screenshots(
    services: Services, monitor: Monitor, job_id: int, alert_ids: list[int]
) -> None:
    """Run the `evidence` tasks of the job's new alerts: here when tasks run in process (no
    broker); else hand the outbox to the broker, as a serving process's relay would."""
    from registry.monitoring.jobs import evidence_task
    from registry.monitoring.models import Alert, ScreenshotStatus
    from registry.monitoring.service import EVIDENCE_TASK
    from registry.tasks.queue import TaskKinds
    from registry.tasks.runner import run_once

    if not alert_ids:
        return
    if services.settings.task_broker_url:
        from frontend.tasks import celery_for, task_kinds
        from registry.tasks.celery_queue import CeleryQueue
        from registry.tasks.outbox import relay

        kinds = task_kinds(services, lambda: monitor)
        relay(services.session, CeleryQueue(celery_for(services, kinds, runs_tasks=False), kinds))
        stderr.print(f"screenshots of {len(alert_ids)} new alerts: queued for the workers")
        return
    kinds = TaskKinds([evidence_task(lambda: monitor)])
    for alert_id in alert_ids:
        args = {"alert_id": alert_id, "job_id": job_id}
        run_once(services.session, kinds, EVIDENCE_TASK, args, f"{EVIDENCE_TASK}:{alert_id}")
        with services.session() as session:
            settled = session.get(Alert, alert_id)
        if settled is None or settled.screenshot_status == ScreenshotStatus.PENDING:
            continue
        outcome = (
            f"taken, evidence {settled.evidence_sha256} (log #{settled.log_index})"
            if settled.screenshot_status == ScreenshotStatus.TAKEN
            else f"not taken: {settled.screenshot_reason}"
        )
        stderr.print(f"screenshot of alert {alert_id}: {outcome}", highlight=False)
