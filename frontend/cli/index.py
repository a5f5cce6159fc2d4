"""`copymark index`: similarity index snapshots shared by every process, and the search features
of works registered before they were kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from similarity.index.shards import ShardSelection

index_app = typer.Typer(
    help="Similarity index snapshots and search features.", no_args_is_help=True
)


@index_app.command("snapshot")
def index_snapshot(
    shard: Annotated[
        str | None, typer.Option(help="only this shard's works, e.g. 0/4 (default: every work)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Build the index from the stored fingerprints and save it as a snapshot in the blob store."""
    # Deferred: building needs the database, FAISS and the embedding model.
    from registry.db import unit_of_work
    from registry.models import persisted_id
    from registry.snapshots import build_snapshot

    selection = None if shard is None else _selection(shard)
    wiring = services()
    try:
        with unit_of_work(wiring.session) as session:
            snapshot = build_snapshot(
                session, wiring.similarity_at, wiring.evidence_blobs, selection
            )
            record = {
                "snapshot_id": persisted_id(snapshot),
                "sha256": snapshot.sha256,
                "works": snapshot.works,
                "last_work_id": snapshot.last_work_id,
                "shard": snapshot.shard,
            }
    finally:
        wiring.close()
    if as_json:
        emit(record)
    else:
        of_shard = "" if selection is None else f" of shard {selection}"
        stderr.print(
            f"snapshot {record['snapshot_id']}{of_shard}: {record['works']} works "
            f"(up to work {record['last_work_id']}), blob {record['sha256']}"
        )


@index_app.command("references")
def index_references(as_json: JsonFlag = False) -> None:
    """Store the search features of works registered before they were kept, from their originals."""
    # Deferred: making features needs the database, the blobs and the models.
    from frontend.cli.works import progress
    from registry.references import fill_missing_references
    from registry.service import reference_image_loader

    wiring = services()
    try:
        with progress() as bar:
            task = bar.add_task("filling search features", total=None)
            filled = fill_missing_references(
                wiring.session,
                wiring.similarity,
                reference_image_loader(wiring.read_session, wiring.blobs, wiring.limits),
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    finally:
        wiring.close()
    record = {"filled": filled.filled, "unreadable_work_ids": list(filled.unreadable)}
    if as_json:
        emit(record)
    else:
        stderr.print(f"{filled.filled} works given their search features")
        if filled.unreadable:
            unreadable = ", ".join(str(work_id) for work_id in filled.unreadable)
            stderr.print(f"originals that could not be read (left as they were): {unreadable}")


@index_app.command("shard")
def index_shard(
    shard: Annotated[str, typer.Argument(help="which shard of how many, e.g. 0/4")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 7301,
) -> None:
    """Hold one shard of the similarity index (the works whose id modulo the count is the shard's
    number) and answer searches from the processes whose COPYMARK_INDEX_SHARDS name it."""
    # Deferred: serving needs uvicorn, the database, FAISS and the embedding model.
    import uvicorn

    from frontend.index_shard import shard_app
    from registry.migrations import schema_is_current

    selection = _selection(shard)
    wiring = services()
    if wiring.settings.index_shards:
        fail("a shard holds its own part of the index: unset COPYMARK_INDEX_SHARDS for it")
    if not schema_is_current(wiring.engine):
        fail(
            "the database's schema is older than this code: run `copymark init` or start "
            "`copymark serve` once, which bring it up to date"
        )
    try:
        follower = wiring.shard_follower(selection)
        stderr.print(
            f"index shard {selection}: {len(follower.engine.work_ids())} works, "
            f"answering on http://{host}:{port}"
        )
        uvicorn.run(shard_app(follower, selection), host=host, port=port, log_level="warning")
    finally:
        wiring.close()


def _selection(text: str) -> ShardSelection:
    """The shard named on the command line; exits with the problem in words if it is not one."""
    from similarity.index.shards import ShardSelection, ShardSelectionError

    try:
        return ShardSelection.parse(text)
    except ShardSelectionError as error:
        fail(str(error))
