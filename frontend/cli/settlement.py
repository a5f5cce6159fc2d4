"""`copymark settlement`: the money side, checked against the payment processor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

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


@settlement_app.command("statement")
def statement(
    party: Annotated[
        str, typer.Option("--party", help="the party's email, or its contract account reference")
    ],
    period: Annotated[str, typer.Option("--period", help="the month, YYYY-MM")],
    output_format: Annotated[
        Literal["json", "csv", "pdf"], typer.Option("--format", help="json lines, CSV or PDF")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file to write (CSV and PDF)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A party's statement for a month: every sale, fee, split formula, amount and log index.

    JSON prints one object per statement line, then one per currency with the totals.
    """
    from registry.errors import CopymarkError
    from settlement.service.statements import statements_for
    from settlement.statements import Period, to_csv, to_pdf

    reference = party if party.startswith(("acct:", "platform:")) else f"acct:{party}"
    wiring = services()
    try:
        month = Period.parse(period)
        with wiring.session() as session:
            statements = statements_for(session, reference, month)
        if output_format == "csv":
            text = to_csv(statements)
            if output is None:
                typer.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
        elif output_format == "pdf":
            document = to_pdf(statements, party=reference, period=month, title=f"Statement {month}")
            if output is None:
                fail("a PDF statement needs -o FILE")
            output.write_bytes(document)
    except CopymarkError as error:
        fail(error.message)
    finally:
        wiring.close()
    if output_format != "json":
        stderr.print(f"statement of {reference} for {month}: {len(statements)} currencies")
        return
    for item in statements:
        for line in item.lines:
            emit(
                {
                    "record": "line",
                    "posted_at": line.posted_at.isoformat(),
                    "kind": line.kind,
                    "grant_id": line.grant_id,
                    "work_id": line.work_id,
                    "work_title": line.work_title,
                    "sale_type": line.sale_type,
                    "price_minor": line.price_minor,
                    "fee_minor": line.fee_minor,
                    "split_formula": line.split_formula,
                    "amount_minor": line.amount_minor,
                    "currency": line.currency,
                    "log_index": line.log_index,
                    "reference": line.reference,
                }
            )
        emit(
            {
                "record": "total",
                "party": reference,
                "period": str(month),
                "currency": item.currency,
                "opening_minor": item.opening_minor,
                "earned_minor": item.earned_minor,
                "paid_out_minor": item.paid_out_minor,
                "closing_minor": item.closing_minor,
            }
        )
    if not as_json:
        stderr.print(f"statement of {reference} for {month}: {len(statements)} currencies")
