"""`copymark index`: similarity index snapshots shared by every process."""

from __future__ import annotations

import typer

from frontend.cli.output import JsonFlag, emit, stderr
from frontend.cli.wiring import services

index_app = typer.Typer(help="Similarity index snapshots.", no_args_is_help=True)


@index_app.command("snapshot")
def index_snapshot(as_json: JsonFlag = False) -> None:
    """Build the index from the stored fingerprints and save it as a snapshot in the blob store."""
    # Deferred: building needs the database, FAISS and the embedding model.
    from registry.db import unit_of_work
    from registry.models import persisted_id
    from registry.snapshots import build_snapshot

    wiring = services()
    try:
        with unit_of_work(wiring.session) as session:
            snapshot = build_snapshot(session, wiring.similarity_at, wiring.evidence_blobs)
            record = {
                "snapshot_id": persisted_id(snapshot),
                "sha256": snapshot.sha256,
                "works": snapshot.works,
                "last_work_id": snapshot.last_work_id,
            }
    finally:
        wiring.close()
    if as_json:
        emit(record)
    else:
        stderr.print(
            f"snapshot {record['snapshot_id']}: {record['works']} works "
            f"(up to work {record['last_work_id']}), blob {record['sha256']}"
        )
