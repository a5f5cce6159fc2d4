from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from licensing.contract import (
    CONTRACT_SCHEMA_PATH,
    MAX_DOCUMENT_BYTES,
    load_contract,
    parse_contract_data,
    parse_contract_text,
    render_contract_schema,
)
from licensing.errors import InvalidContractError
from tests.unit.licensing.factories import contract_data, parties, usd


def refusal(document: dict[str, Any]) -> str:
    with pytest.raises(InvalidContractError) as caught:
        parse_contract_data(document)
    return str(caught.value)


def test_published_schema_file_matches_the_models() -> None:
    assert CONTRACT_SCHEMA_PATH.read_text(encoding="utf-8") == render_contract_schema(), (
        "regenerate with: .venv/bin/python -m licensing.contract"
    )


def test_accepts_the_same_document_written_as_json_or_yaml() -> None:
    document = contract_data()
    assert parse_contract_text(json.dumps(document)) == parse_contract_text(
        yaml.safe_dump(document)
    )


def test_loads_a_contract_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(contract_data(contract_id="from-file")), encoding="utf-8")
    assert load_contract(path).contract_id == "from-file"


def test_refuses_shares_not_summing_to_the_whole() -> None:
    message = refusal(
        contract_data(parties=parties(("ana", 6000), ("ben", 3000)), platform_fee=None)
    )
    assert "sum to 9000 bp" in message


def test_refuses_a_platform_fee_paid_to_an_unknown_party() -> None:
    message = refusal(contract_data(platform_fee={"party": "ghost", "rate_bp": 500}))
    assert "'ghost' is not a party" in message


def test_refuses_a_platform_fee_paid_to_a_party_that_is_not_the_platform() -> None:
    assert "not 'platform'" in refusal(contract_data(platform_fee={"party": "ana", "rate_bp": 5}))


def test_refuses_repeated_party_ids() -> None:
    document = contract_data(parties=parties(("ana", 5000), ("ana", 5000)), platform_fee=None)
    assert "party ids repeat: ana" in refusal(document)


def test_refuses_tiers_that_overlap() -> None:
    tiers = [{"from_units": 0, "rate_bp": 500}, {"from_units": 0, "rate_bp": 700}]
    assert "overlap" in refusal(contract_data(retail={"tiers": tiers}))


def test_refuses_unordered_tiers() -> None:
    tiers = [
        {"from_units": 0, "rate_bp": 500},
        {"from_units": 900, "rate_bp": 700},
        {"from_units": 100, "rate_bp": 900},
    ]
    assert "unordered: tier 3 starts at 100" in refusal(contract_data(retail={"tiers": tiers}))


def test_refuses_tiers_not_starting_at_zero() -> None:
    message = refusal(contract_data(retail={"tiers": [{"from_units": 10, "rate_bp": 500}]}))
    assert "must start at 0" in message


def test_refuses_tiers_mixing_unit_and_revenue_thresholds() -> None:
    tiers = [{"from_units": 0, "rate_bp": 500}, {"from_revenue_minor": 100, "rate_bp": 700}]
    assert "mix" in refusal(contract_data(retail={"tiers": tiers}))


def test_refuses_channel_rates_repeating_a_scope() -> None:
    scoped = {"channel": "online", "tiers": [{"from_units": 0, "rate_bp": 900}]}
    retail = {"tiers": [{"from_units": 0, "rate_bp": 500}], "by_channel": [scoped, scoped]}
    assert "appears twice" in refusal(contract_data(retail=retail))


def test_refuses_unordered_wholesale_volume_tiers() -> None:
    wholesale = {
        "volume_tiers": [
            {"from_units": 1, "unit_price": usd(200)},
            {"from_units": 1, "unit_price": usd(100)},
        ]
    }
    assert "volume tiers overlap or are unordered" in refusal(contract_data(wholesale=wholesale))


@pytest.mark.parametrize("amount", [-5, 12.5, 12.0, "12"])
def test_refuses_amounts_that_are_negative_fractional_or_not_integers(amount: object) -> None:
    message = refusal(contract_data(buyout={"fee": {"amount_minor": amount, "currency": "USD"}}))
    assert "buyout.fee.amount_minor" in message


def test_refuses_an_amount_in_another_currency() -> None:
    message = refusal(contract_data(buyout={"fee": {"amount_minor": 100, "currency": "EUR"}}))
    assert "currency mismatch: buyout.fee is in EUR" in message


def test_refuses_an_unknown_currency() -> None:
    assert "unknown currency 'ABC'" in refusal(contract_data(currency="ABC"))


def test_refuses_a_work_that_is_its_own_parent() -> None:
    message = refusal(contract_data(parents=[{"work": "work-1", "share_bp": 100}]))
    assert "derivation cycle" in message


def test_refuses_parent_shares_above_the_whole() -> None:
    parents = [{"work": "work-2", "share_bp": 6000}, {"work": "work-3", "share_bp": 5000}]
    assert "parent work shares sum to 11000 bp" in refusal(contract_data(parents=parents))


def test_refuses_a_contract_with_no_sale_type() -> None:
    document = contract_data()
    del document["retail"]
    assert "offers no sale type" in refusal(document)


def test_refuses_an_advance_without_retail_royalties() -> None:
    document = contract_data(advance={"amount": usd(1000)}, buyout={"fee": usd(100)})
    del document["retail"]
    assert "advance is recouped from retail royalties" in refusal(document)


def test_refuses_unknown_fields() -> None:
    assert "unexpected" in refusal(contract_data(royalty_holiday=True))


def test_refuses_an_unknown_ai_training_value() -> None:
    assert "ai_training" in refusal(contract_data(ai_training="maybe"))


def test_refuses_a_subject_naming_both_a_work_and_a_collection() -> None:
    message = refusal(contract_data(subject={"work": "work-1", "collection": "col-1"}))
    assert "exactly one of 'work' or 'collection'" in message


def test_refuses_yaml_duplicate_keys() -> None:
    text = yaml.safe_dump(contract_data()) + "currency: EUR\n"
    with pytest.raises(InvalidContractError, match="'currency' appears twice"):
        parse_contract_text(text)


def test_refuses_json_duplicate_keys() -> None:
    text = json.dumps(contract_data())[:-1] + ', "version": 2}'
    with pytest.raises(InvalidContractError, match="'version' appears twice"):
        parse_contract_text(text)


def test_refuses_yaml_alias_expansion_bombs() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(InvalidContractError, match="aliases"):
        parse_contract_text(bomb + "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n")


def test_refuses_yaml_python_object_tags() -> None:
    with pytest.raises(InvalidContractError, match="not valid YAML"):
        parse_contract_text("!!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize("text", ["{" + '"a":{' * 50_000 + "}" * 50_001, "[" * 50_000])
def test_refuses_documents_nested_too_deeply(text: str) -> None:
    with pytest.raises(InvalidContractError, match="nested too deeply"):
        parse_contract_text(text)


def test_refuses_an_oversized_document() -> None:
    with pytest.raises(InvalidContractError, match="exceeds"):
        parse_contract_text("#" * (MAX_DOCUMENT_BYTES + 1))


@pytest.mark.parametrize("text", ["[1, 2]", "just a string", "", '{"nan": NaN}'])
def test_refuses_documents_that_are_not_contract_objects(text: str) -> None:
    with pytest.raises(InvalidContractError):
        parse_contract_text(text)


def test_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidContractError, match="not UTF-8"):
        load_contract(path)
