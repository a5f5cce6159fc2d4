"""`copymark log`: the attestation log."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

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


@log_app.command("sequence")
def log_sequence(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="leaves per batch at most")] = (
        256
    ),
    batch_wait_ms: Annotated[
        int, typer.Option(min=1, help="how long the first waiting leaf waits for a batch")
    ] = 250,
) -> None:
    """Run the log's sequencer (PostgreSQL): append submitted leaves in batches until stopped.

    Start one per deployment, or more: the others wait for the lease and take over when the
    one holding it dies.
    """
    # Deferred: the sequencer needs the database (SQLModel).
    from registry.log.errors import LogError

    wiring = services()
    stop = threading.Event()
    leased = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        sequencer = wiring.log_sequencer(batch_size=batch_size, batch_wait_s=batch_wait_ms / 1000)
    except LogError as error:
        fail(str(error), 2)
    stderr.print("log sequencer: waiting for the lease")
    runner = threading.Thread(target=sequencer.run, args=(stop,), kwargs={"on_lease": leased})
    runner.start()
    try:
        while runner.is_alive():
            if leased.wait(0.5):
                stderr.print("log sequencer: holding the lease, appending")
                leased.clear()
            runner.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        runner.join()
    stderr.print(f"log sequencer: {sequencer.leaves} leaves in {sequencer.batches} batches")
