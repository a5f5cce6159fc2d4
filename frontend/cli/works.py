"""`copymark register`, `match` and `certificate`: works in and out of the registry.

`register` and `match` load the embedding model once per process (the app's shared wiring) and
run every file through it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from rich.progress import Progress

    from frontend.services import Services
    from registry.models import User
    from registry.schemas import WorkMetadata
    from registry.service import Registrar

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"})


def progress() -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )


def expand_paths(paths: list[Path], suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Files as given, plus the image files found under folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            )
        elif path.is_file():
            found.append(path)
        else:
            fail(f"no such file or folder: {path}", 2)
    return found


def chunks(items: list[Path], size: int) -> Iterator[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def register(
    paths: Annotated[list[Path], typer.Argument(help="image files or folders")],
    owner: Annotated[str, typer.Option(help="email of the owning account")],
    title: Annotated[str, typer.Option(help="title (default: the file name)")] = "",
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="fingerprinting processes; 1 fingerprints on threads of this process",
        ),
    ] = 1,
    *,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="store the files and leave their registration to `copymark worker` "
            "(needs COPYMARK_TASK_BROKER_URL)",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register works: one line per file with its work id, SHA-256, log index and status."""
    # Deferred: registration needs the database, torch/ONNX Runtime and FAISS.
    from frontend.services import NotInitialised
    from registry.accounts.service import find_user_by_email
    from registry.analysis import AnalysisPool
    from registry.schemas import WorkMetadata

    wiring = services()
    files = expand_paths(paths)
    try:
        registrar = wiring.registrar
    except NotInitialised as error:
        fail(str(error))
    with wiring.session() as session:
        account = find_user_by_email(session, owner)
    if account is None:
        fail(f"no account with email {owner}: create it with `copymark user create {owner}`", 2)
    metadata = WorkMetadata(title=title)
    if queue:
        if not wiring.settings.task_broker_url:
            fail("--queue needs COPYMARK_TASK_BROKER_URL (redis://host:port/db) and a worker", 2)
        _queue_files(registrar, wiring, account, files, metadata, as_json)
        return
    # Each pool worker spends seconds loading the network before its first image: threads stay
    # the default until a pool is shown to pay for that on the machine at hand.
    pool = AnalysisPool(processes, wiring.settings.model_cache_dir) if processes > 1 else None
    registrar.analysis_pool = pool
    try:
        failures = _register_files(registrar, wiring, account, files, metadata, as_json)
    finally:
        if pool is not None:
            pool.close()
    if failures:
        raise typer.Exit(1)


def _register_files(  # noqa: PLR0917 - a private step of `register`, called once
    registrar: Registrar,
    wiring: Services,
    account: User,
    files: list[Path],
    metadata: WorkMetadata,
    as_json: bool,
) -> int:
    from registry.db import unit_of_work
    from registry.service import REGISTER_BATCH, Registered, Upload

    failures = 0
    with progress() as bar:
        task = bar.add_task("registering", total=len(files))
        for batch in chunks(files, REGISTER_BATCH):
            uploads = [Upload(path.read_bytes(), str(path), metadata) for path in batch]
            # One unit of work per batch on purpose: what is printed is committed, and an
            # interrupted run keeps every batch before the one it stopped in.
            with unit_of_work(wiring.session) as session:
                outcomes = registrar.register_batch(session, account, uploads)
            registrar.await_log_indexes(outcomes)
            for outcome in outcomes:
                if isinstance(outcome, Registered):
                    record = {
                        "path": outcome.source,
                        "work_id": outcome.work.id,
                        "sha256": outcome.work.sha256,
                        "log_index": outcome.work.log_index,
                        "status": outcome.status,
                        "conflict_with": outcome.conflict_with,
                        "conflict": outcome.conflict_note,
                    }
                else:
                    failures += 1
                    record = {
                        "path": outcome.source,
                        "status": "rejected",
                        "error": outcome.message,
                    }
                if as_json:
                    emit(record)
                else:
                    stderr.print(_describe(record), highlight=False)
            bar.advance(task, len(batch))
    return failures


def _queue_files(  # noqa: PLR0917 - a private step of `register`, called once
    registrar: Registrar,
    wiring: Services,
    account: User,
    files: list[Path],
    metadata: WorkMetadata,
    as_json: bool,
) -> None:
    """Store each batch's files, queue their registration in one transaction, hand it over."""
    from frontend.tasks import celery_for, task_kinds
    from registry.db import unit_of_work
    from registry.service import REGISTER_BATCH, StoredUpload, queue_registration
    from registry.tasks.celery_queue import CeleryQueue
    from registry.tasks.outbox import relay

    # Every kind, so that whatever else waits in the outbox is routed to its own queue too.
    kinds = task_kinds(wiring, wiring.monitor)
    broker = CeleryQueue(celery_for(wiring, kinds, runs_tasks=False), kinds)
    for batch in chunks(files, REGISTER_BATCH):
        stored = []
        for path in batch:
            with path.open("rb") as stream:
                stored.append(registrar.store_upload(stream, str(path), metadata))
        uploads = [item for item in stored if isinstance(item, StoredUpload)]
        with unit_of_work(wiring.session) as session:
            key = queue_registration(session, account, uploads, metadata) if uploads else None
        # A serving process's relay would hand the task over within seconds; none may be running.
        relay(wiring.session, broker)
        for item in stored:
            if isinstance(item, StoredUpload):
                record = {
                    "path": item.source,
                    "sha256": item.sha256,
                    "status": "queued",
                    "task": key,
                }
            else:
                record = {"path": item.source, "status": "rejected", "error": item.message}
            if as_json:
                emit(record)
            else:
                stderr.print(f"{record['status']:<10} {record['path']}", highlight=False)


def _describe(record: dict[str, Any]) -> str:
    if record["status"] == "rejected":
        return f"rejected  {record['path']}: {record['error']}"
    extra = f" ({record['conflict']})" if record.get("conflict") else ""
    status, work_id, index = record["status"], record["work_id"], record["log_index"]
    entry = "log entry pending" if index is None else f"log #{index}"
    return f"{status:<10} work {work_id} {entry}  {record['path']}{extra}"


def match(
    paths: Annotated[list[Path], typer.Argument(help="image files or folders")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Look images up in the registry: one line per query with its matches and decision."""
    # Deferred: matching needs torch/ONNX Runtime and FAISS; the JSON shape is the API's.
    from frontend.matches import result_json
    from registry.errors import CopymarkError
    from registry.search import decode_query, search_image

    wiring = services()
    files = expand_paths(paths)
    similarity = wiring.similarity
    with progress() as bar:
        task = bar.add_task("matching", total=len(files))
        for path in files:
            try:
                image = decode_query(path.read_bytes(), wiring.limits)
            except CopymarkError as error:
                record: dict[str, Any] = {"query": str(path), "error": error.message}
            else:
                record = result_json(search_image(similarity, image, top_k), str(path))
            if as_json:
                emit(record)
            else:
                stderr.print(_describe_match(record), highlight=False)
            bar.advance(task)


def _describe_match(record: dict[str, Any]) -> str:
    if "error" in record:
        return f"error     {record['query']}: {record['error']}"
    best = record["matches"][0] if record["matches"] else None
    found = (
        f"work {best['work_id']} score {best['score']:+.3f} p_copy {best['p_copy']:.4f}"
        + (" verified" if best["verified"] else "")
        if best
        else "nothing similar"
    )
    return f"{record['decision']:<9} {record['query']}: {found}"


def certificate(
    work_id: int,
    output_format: Annotated[str, typer.Option("--format", help="json or pdf")] = "json",
    output: Annotated[Path | None, typer.Option("-o", help="write to this file")] = None,
) -> None:
    """Print or write the registration certificate of a work."""
    if output_format not in {"json", "pdf"}:
        fail(f"unknown format {output_format!r}: use json or pdf", 2)
    # Deferred: certificates read the database and render PDFs.
    from registry.bounds import MAX_RECORD_ID
    from registry.certificates import PdfExtras, render_certificate_pdf
    from registry.db import unit_of_work
    from registry.models import Work
    from registry.service import work_certificate, work_certificate_view

    if not 1 <= work_id <= MAX_RECORD_ID:
        fail(f"work {work_id} not found: work ids run from 1 to {MAX_RECORD_ID}", 2)
    wiring = services()
    with unit_of_work(wiring.session) as session:
        work = session.get(Work, work_id)
        if work is None:
            fail(f"work {work_id} not found", 2)
        if output_format == "json":
            data = (
                json.dumps(work_certificate(session, wiring.signer, work), indent=2).encode()
                + b"\n"
            )
        else:
            view = work_certificate_view(session, wiring.signer, work, wiring.settings.base_url)
            certificate = work_certificate(session, wiring.signer, work)
            data = render_certificate_pdf(view, PdfExtras(certificate=certificate))
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        stderr.print(f"wrote {output}")
