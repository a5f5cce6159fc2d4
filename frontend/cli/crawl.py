"""`copymark crawl`: crawl seed URLs for copies of registered works; one JSON line per alert."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import emit, fail, stderr
from frontend.cli.wiring import services as app_services

if TYPE_CHECKING:
    from frontend.services import Services
    from registry.monitoring.jobs import AlertLine, Progress


def crawl(
    urls: Annotated[list[str], typer.Argument(help="seed URLs")],
    max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="page budget")] = 100,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="host exempt from the private-address guard (repeat)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per alert on stdout")
    ] = False,
) -> None:
    """Crawl the seeds' sites and raise an alert, with evidence, for every copy of a work."""
    services = app_services()
    try:
        _crawl(services, urls, max_pages, allow_host or [], as_json=as_json)
    finally:
        services.close()


def _crawl(
    services: Services, urls: list[str], max_pages: int, allow_hosts: list[str], *, as_json: bool
) -> None:
    # Deferred: monitoring needs the database, the crawler, torch/ONNX Runtime and FAISS.
    from frontend.services import NotInitialised
    from registry.db import unit_of_work
    from registry.errors import CopymarkError
    from registry.models import persisted_id
    from registry.monitoring.models import JobStatus
    from registry.monitoring.service import create_job

    try:
        monitor = services.monitor()
    except NotInitialised as error:
        fail(str(error))
    with unit_of_work(services.session) as session:
        try:
            job = create_job(session, None, urls, max_pages, allow_hosts)
        except CopymarkError as error:
            fail(error.message, 2)
    job_id = persisted_id(job)
    stderr.print(f"crawl {job_id}: frontier under {monitor.crawl_root / str(job_id)}")

    def alert(line: AlertLine) -> None:
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

    finished = asyncio.run(monitor.run_job(job_id, on_alert=alert, on_progress=progress))
    if finished.status != JobStatus.FINISHED:
        fail(f"crawl {job_id} {finished.status}: {finished.error}")
