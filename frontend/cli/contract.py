"""`copymark contract`: validate contract documents and simulate how a sale is split."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from frontend.cli.output import fail

if TYPE_CHECKING:
    from licensing.contract import Contract
    from licensing.engine import CompiledContract, Execution
    from licensing.money import Money

# The licensing engine (pydantic, JSON Schema, YAML) is imported inside the commands that use
# it, so that `copymark --help` does not pay for it.

BAD_INPUT_EXIT_CODE = 2
SALE_TYPES = ("retail", "wholesale", "buyout")

contract_app = typer.Typer(
    help="Validate contract documents and simulate how a sale is split among the parties.",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="Contract document (YAML or JSON).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _load_with_parents(file: Path) -> tuple[Contract, CompiledContract]:
    """Parse the file and resolve its parent works among the contract files beside it."""
    if not file.is_file():
        fail(f"{file} is not a file", BAD_INPUT_EXIT_CODE)
    from licensing.contract import load_contract
    from licensing.directory import directory_resolver
    from licensing.engine import compile_contract

    contract = load_contract(file)
    return contract, compile_contract(contract, directory_resolver(file.parent))


def _count(text: str | None, option: str) -> int:
    if text is None:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        fail(f"{option} must be a whole number, got {text!r}", BAD_INPUT_EXIT_CODE)
    if value < 0:
        fail(f"{option} must not be negative, got {value}", BAD_INPUT_EXIT_CODE)
    return value


def _price(text: str | None, currency: str) -> Money | None:
    from licensing.money import Money

    return None if text is None else Money.parse(text, currency)


@contract_app.command()
def validate(file: FileArgument, json_output: JsonOption = False) -> None:
    """Check a contract against the schema and its rules, resolving parent works beside it."""
    from licensing.errors import LicensingError

    try:
        contract, _ = _load_with_parents(file)
    except LicensingError as error:
        if json_output:
            sys.stdout.write(json.dumps({"valid": False, "error": str(error)}) + "\n")
        fail(str(error), BAD_INPUT_EXIT_CODE)
    subject = contract.subject.work or f"collection {contract.subject.collection}"
    if json_output:
        summary = {
            "valid": True,
            "contract_id": contract.contract_id,
            "version": contract.version,
            "subject": subject,
            "currency": contract.currency,
            "parties": len(contract.parties),
            "sale_types": list(contract.sale_types()),
            "ai_training": contract.ai_training,
        }
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    sys.stdout.write(
        f"valid: {contract.contract_id} v{contract.version} on {subject}, "
        f"parties: {len(contract.parties)}, sale types: {', '.join(contract.sale_types())}, "
        f"AI training: {contract.ai_training}\n"
    )


@contract_app.command()
def simulate(
    file: FileArgument,
    *,
    sale_type: Annotated[
        str | None, typer.Option("--sale-type", help="retail, wholesale or buyout.")
    ] = None,
    units: Annotated[str | None, typer.Option("--units", help="Units sold or bought.")] = None,
    price: Annotated[
        str | None,
        typer.Option(
            "--price",
            help="In major units (12.50). Retail: net unit price. Wholesale: agreed unit price "
            "(default: the volume tier's). Buyout: agreed price (default: the contract's fee).",
        ),
    ] = None,
    package: Annotated[str | None, typer.Option("--package", help="Wholesale package id.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Retail channel.")] = None,
    territory: Annotated[
        str | None, typer.Option("--territory", help="Retail territory (ISO 3166 alpha-2).")
    ] = None,
    units_before: Annotated[
        str | None,
        typer.Option("--units-before", help="Retail units reported before, for tiers."),
    ] = None,
    recouped_before: Annotated[
        str | None,
        typer.Option("--recouped-before", help="Advance already recouped, in major units."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Split one sale under the contract and print the allocation table."""
    from licensing.engine import Buyout, RetailSale, SaleEvent, WholesalePurchase, execute
    from licensing.errors import LicensingError

    if sale_type not in SALE_TYPES:
        fail(
            f"--sale-type must be one of {', '.join(SALE_TYPES)}, got {sale_type!r}",
            BAD_INPUT_EXIT_CODE,
        )
    unit_count = _count(units, "--units")
    try:
        contract, compiled = _load_with_parents(file)
        currency = contract.currency
        event: SaleEvent
        if sale_type == "retail":
            event = RetailSale(
                units=unit_count,
                unit_price=_price(price, currency),
                channel=channel,
                territory=territory,
                units_before=_count(units_before, "--units-before"),
                recouped_before=_price(recouped_before, currency),
            )
        elif sale_type == "wholesale":
            event = WholesalePurchase(
                units=unit_count, package=package, unit_price=_price(price, currency)
            )
        else:
            event = Buyout(price=_price(price, currency))
        execution = execute(compiled, event)
    except LicensingError as error:
        fail(str(error), BAD_INPUT_EXIT_CODE)
    if json_output:
        sys.stdout.write(json.dumps(execution.to_json()) + "\n")
        return
    Console(highlight=False).print(_split_table(execution))


def _split_table(execution: Execution) -> Table:
    gross = execution.gross
    table = Table(
        title=f"{execution.contract_id} v{execution.contract_version}: {execution.sale_type}, "
        f"gross {gross}"
    )
    table.add_column("party")
    table.add_column("rule")
    table.add_column(f"amount ({gross.currency})", justify="right")
    table.add_column("of gross", justify="right")
    for line in execution.allocations:
        share = line.amount.amount_minor / gross.amount_minor if gross.amount_minor else 0.0
        table.add_row(line.party, line.rule, line.amount.format_major(), f"{share:.2%}")
    return table
