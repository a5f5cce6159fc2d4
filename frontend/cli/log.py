"""`copymark log`: the attestation log."""

from __future__ import annotations

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

log_app = typer.Typer(help="The attestation log.", no_args_is_help=True)


@log_app.command("verify")
def log_verify(as_json: JsonFlag = False) -> None:
    """Recompute the whole tree from the stored leaves and check every signed head."""
    # Deferred: the log store reads the database (SQLModel).
    from registry.log.store import verify_log

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
