"""`copymark settlement`: the money side, checked against the payment processor."""

from __future__ import annotations

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

settlement_app = typer.Typer(help="Payments and the ledger.", no_args_is_help=True)


@settlement_app.command("reconcile")
def reconcile_ledger(as_json: JsonFlag = False) -> None:
    """Compare the ledger's Stripe clearing balance with Stripe's balance, per currency.

    Exits 1 when a currency differs.
    """
    # Deferred: the ledger reads the database (SQLModel) and the gateway loads the stripe library.
    from registry.errors import CopymarkError
    from settlement.service.reconcile import reconcile

    wiring = services()
    try:
        with wiring.session() as session:
            results = reconcile(session, wiring.payment_gateway)
    except CopymarkError as error:
        fail(error.message)
    finally:
        wiring.close()
    for result in results:
        record = {
            "currency": result.currency,
            "ledger_minor": result.ledger_minor,
            "processor_minor": result.processor_minor,
            "difference_minor": result.difference_minor,
            "processor_transactions": result.processor_transactions,
            "matched": result.matched,
        }
        if as_json:
            emit(record)
        else:
            state = "matched" if result.matched else f"differs by {result.difference_minor}"
            stderr.print(
                f"{result.currency}: ledger {result.ledger_minor}, "
                f"processor {result.processor_minor} ({state})"
            )
    mismatched = [result.currency for result in results if not result.matched]
    if mismatched:
        fail(f"the ledger and the processor differ in {', '.join(mismatched)}")
