"""The `contract` CLI against the example contracts and against bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from frontend.cli.contract import contract_app
from tests.unit.licensing.factories import contract_data

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "contracts"
runner = CliRunner()


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def simulations() -> list[tuple[Path, list[str]]]:
    runs: list[tuple[Path, list[str]]] = []
    for path in example_files():
        offered = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "retail" in offered:
            runs.append((path, ["--sale-type", "retail", "--units", "1234", "--price", "19.99"]))
        if "wholesale" in offered:
            runs.append((path, ["--sale-type", "wholesale", "--units", "700"]))
        if "buyout" in offered:
            runs.append((path, ["--sale-type", "buyout"]))
    return runs


def test_examples_cover_every_sale_type_tiers_an_advance_and_a_three_level_chain() -> None:
    documents = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in example_files()]
    for sale_type in ("retail", "wholesale", "buyout"):
        assert any(sale_type in document for document in documents), sale_type
    assert any(
        "advance" in document and len(document["retail"]["tiers"]) > 1 for document in documents
    )
    parents = {
        document["subject"]["work"]: [parent["work"] for parent in document.get("parents", [])]
        for document in documents
    }
    assert any(parents.get(grandparent) for parent in parents.values() for grandparent in parent)


@pytest.mark.parametrize("path", example_files(), ids=lambda path: path.name)
def test_every_example_validates(path: Path) -> None:
    result = runner.invoke(contract_app, ["validate", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


@pytest.mark.parametrize(
    ("path", "arguments"),
    simulations(),
    ids=lambda value: value.name if isinstance(value, Path) else value[1],
)
def test_every_example_simulates_a_split_summing_to_the_gross(
    path: Path, arguments: list[str]
) -> None:
    result = runner.invoke(contract_app, ["simulate", str(path), *arguments, "--json"])
    assert result.exit_code == 0, result.stderr
    split = json.loads(result.stdout)
    assert split["gross_minor"] > 0
    assert sum(line["amount_minor"] for line in split["allocations"]) == split["gross_minor"]


def test_simulating_a_derivative_pays_every_level_of_the_chain() -> None:
    arguments = ["simulate", str(EXAMPLES / "chain-tshirt.yaml"), "--sale-type", "retail"]
    result = runner.invoke(contract_app, [*arguments, "--units", "10", "--json"])
    rules = {line["rule"] for line in json.loads(result.stdout)["allocations"]}
    assert {"upstream:work-202", "upstream:work-202>work-201", "share:creator"} <= rules


def test_prints_the_split_as_a_table() -> None:
    path = str(EXAMPLES / "buyout-exclusive.yaml")
    result = runner.invoke(contract_app, ["simulate", path, "--sale-type", "buyout"])
    assert result.exit_code == 0
    assert "haruto" in result.stdout
    assert "platform_fee" in result.stdout


def test_validate_reports_an_invalid_contract_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(contract_data(currency="XYZ")), encoding="utf-8")
    result = runner.invoke(contract_app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "unknown currency 'XYZ'" in result.stderr


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["--sale-type", "lease"], "--sale-type must be one of"),
        (["--sale-type", "retail", "--units", "ten"], "--units must be a whole number"),
        (["--sale-type", "retail", "--units", "-4"], "--units must not be negative"),
        (["--sale-type", "retail", "--units", "1", "--price", "1.001"], "decimal places"),
        (["--sale-type", "buyout"], "offers no buyout"),
    ],
)
def test_simulate_refuses_bad_input_with_exit_code_2(arguments: list[str], problem: str) -> None:
    path = str(EXAMPLES / "retail-channels.yaml")
    result = runner.invoke(contract_app, ["simulate", path, *arguments])
    assert result.exit_code == 2
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1


def test_simulate_refuses_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(
        contract_app, ["simulate", str(tmp_path / "nope.yaml"), "--sale-type", "buyout"]
    )
    assert result.exit_code == 2
    assert "is not a file" in result.stderr
