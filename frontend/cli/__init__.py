"""The `copymark` command line: results on stdout (one JSON object per line with --json), progress
and errors on stderr, a non-zero exit status on failure."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from frontend.api.search import result_json
from frontend.cli.bench import bench
from frontend.cli.contract import contract_app
from frontend.cli.crawl import crawl
from frontend.cli.output import emit, fail, stderr
from frontend.services import NotInitialised, Services
from frontend.settings import Settings
from registry.accounts import create_user, find_user_by_email
from registry.certificates import render_certificate_pdf, verify_certificate
from registry.errors import RegistryError
from registry.log.signing import LogPublicKey
from registry.log.store import verify_log
from registry.models import Role, Work
from registry.monitoring.evidence import verify_bundle
from registry.schemas import WorkMetadata
from registry.search import decode_query, search_image
from registry.service import (
    REGISTER_BATCH,
    Registered,
    Upload,
    work_certificate,
    work_certificate_view,
)

app = typer.Typer(
    help="Copymark: register works, find copies, license and prove it.", no_args_is_help=True
)
log_app = typer.Typer(help="The attestation log.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(log_app, name="log")
app.add_typer(user_app, name="user")
app.add_typer(contract_app, name="contract")
app.command("bench")(bench)
app.command("crawl")(crawl)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"})

JsonFlag = Annotated[bool, typer.Option("--json", help="one JSON object per line on stdout")]


def services() -> Services:
    return Services(Settings())


def progress() -> Progress:
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


@app.command()
def init() -> None:
    """Create the data folder, the database and the log signing key."""
    wiring = services()
    wiring.initialise()
    stderr.print(f"initialised {wiring.settings.home.resolve()}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="load demo accounts and works first")
    ] = False,
) -> None:
    """Serve the web app and the JSON API."""
    import uvicorn

    from frontend.app import create_app

    wiring = services()
    wiring.initialise()
    if demo:
        from frontend.demo import load_demo

        load_demo(wiring, progress_console=stderr)
    uvicorn.run(create_app(services=wiring), host=host, port=port)


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Annotated[list[Role], typer.Option(help="repeat for several roles")] = [Role.CREATOR],  # noqa: B006
    name: Annotated[str, typer.Option(help="display name")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create an account."""
    wiring = services()
    with wiring.session() as session:
        try:
            user = create_user(
                session, email=email, password=password, display_name=name, roles=set(role)
            )
        except RegistryError as error:
            fail(error.message, 2)
        session.commit()
        if as_json:
            emit({"user_id": user.id, "email": user.email, "roles": user.roles})
        else:
            stderr.print(f"created user {user.id} <{user.email}>")


@app.command()
def register(
    paths: Annotated[list[Path], typer.Argument(help="image files or folders")],
    owner: Annotated[str, typer.Option(help="email of the owning account")],
    title: Annotated[str, typer.Option(help="title (default: the file name)")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register works: one line per file with its work id, SHA-256, log index and status."""
    wiring = services()
    files = expand_paths(paths)
    failures = 0
    try:
        registrar = wiring.registrar
    except NotInitialised as error:
        fail(str(error))
    with wiring.session() as session:
        account = find_user_by_email(session, owner)
    if account is None:
        fail(f"no account with email {owner}: create it with `copymark user create {owner}`", 2)
    metadata = WorkMetadata(title=title)
    with progress() as bar:
        task = bar.add_task("registering", total=len(files))
        for batch in chunks(files, REGISTER_BATCH):
            uploads = [Upload(path.read_bytes(), str(path), metadata) for path in batch]
            with wiring.session() as session:
                outcomes = registrar.register_batch(session, account, uploads)
                session.commit()
            for outcome in outcomes:
                if isinstance(outcome, Registered):
                    record = {
                        "path": outcome.source,
                        "work_id": outcome.work.id,
                        "sha256": outcome.work.sha256,
                        "log_index": outcome.work.log_index,
                        "status": outcome.status,
                        "conflict_with": outcome.conflict_with,
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
    if failures:
        raise typer.Exit(1)


def _describe(record: dict[str, Any]) -> str:
    if record["status"] == "rejected":
        return f"rejected  {record['path']}: {record['error']}"
    extra = f" (resembles work {record['conflict_with']})" if record.get("conflict_with") else ""
    status, work_id, index = record["status"], record["work_id"], record["log_index"]
    return f"{status:<10} work {work_id} log #{index}  {record['path']}{extra}"


@app.command()
def match(
    paths: Annotated[list[Path], typer.Argument(help="image files or folders")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Look images up in the registry: one line per query with its matches and decision."""
    wiring = services()
    files = expand_paths(paths)
    similarity = wiring.similarity
    with progress() as bar:
        task = bar.add_task("matching", total=len(files))
        for path in files:
            try:
                image = decode_query(path.read_bytes(), wiring.limits)
            except RegistryError as error:
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
    found = f"work {best['work_id']} score {best['score']:+.3f}" if best else "nothing similar"
    return f"{record['decision']:<9} {record['query']}: {found}"


@app.command()
def certificate(
    work_id: int,
    output_format: Annotated[str, typer.Option("--format", help="json or pdf")] = "json",
    output: Annotated[Path | None, typer.Option("-o", help="write to this file")] = None,
) -> None:
    """Print or write the registration certificate of a work."""
    if output_format not in {"json", "pdf"}:
        fail(f"unknown format {output_format!r}: use json or pdf", 2)
    wiring = services()
    with wiring.session() as session:
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
            data = render_certificate_pdf(view)
        session.commit()
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        stderr.print(f"wrote {output}")


@log_app.command("verify")
def log_verify(as_json: JsonFlag = False) -> None:
    """Recompute the whole tree from the stored leaves and check every signed head."""
    wiring = services()
    with wiring.session() as session:
        result = verify_log(session, wiring.signer.public_key)
    record = {
        "ok": result.ok,
        "tree_size": result.tree_size,
        "leaves_checked": result.leaves_checked,
        "nodes_checked": result.nodes_checked,
        "heads_checked": result.heads_checked,
        "problem": None
        if result.problem is None
        else {
            "kind": result.problem.kind,
            "index": result.problem.index,
            "detail": result.problem.detail,
        },
    }
    if as_json:
        emit(record)
    elif result.ok:
        stderr.print(
            f"log OK: {result.tree_size} leaves, {result.nodes_checked} nodes, "
            f"{result.heads_checked} signed heads verified"
        )
    if result.problem is not None:
        fail(f"log tampered: {result.problem.kind} {result.problem.index}: {result.problem.detail}")


@app.command()
def verify(
    document: Annotated[
        Path, typer.Argument(help="a certificate (JSON) or an evidence bundle (zip)")
    ],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="the log's public key (PEM or base64)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a certificate or an evidence bundle offline: only the log's public key is needed."""
    key = _trusted_key(public_key)
    try:
        data = document.read_bytes()
    except OSError as error:
        fail(f"cannot read {document}: {error}", 2)
    if zipfile.is_zipfile(io.BytesIO(data)):
        bundle = verify_bundle(data, key)
        valid, reason, index = bundle.valid, bundle.reason, bundle.log_index
        size = None
    else:
        try:
            parsed = json.loads(data)
        except ValueError as error:
            fail(f"{document} is neither a certificate (JSON) nor a bundle (zip): {error}", 2)
        check = verify_certificate(parsed, key)
        valid, reason, index = check.valid, check.reason, check.log_index
        size = check.tree_head.tree_size if check.tree_head else None
    if as_json:
        emit({"valid": valid, "reason": reason, "log_index": index})
    if not valid:
        fail(f"{document} does NOT verify: {reason}")
    if not as_json:
        in_tree = f" of {size} leaves" if size else ""
        stderr.print(f"{document} verifies: leaf {index} is in the signed log{in_tree}")


def _trusted_key(path: Path | None) -> LogPublicKey:
    """The key given on the command line, else this installation's own log key."""
    if path is None:
        return services().signer.public_key
    try:
        text = path.read_text().strip()
        return LogPublicKey.from_pem(text) if "BEGIN" in text else LogPublicKey.from_base64(text)
    except (OSError, ValueError) as error:
        fail(f"cannot read the public key {path}: {error}", 2)


def main() -> None:
    app()
