"""An offer's terms read from its contract, and prices compared across currencies' decimals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.contract import parse_contract_data
from licensing.money import Money
from licensing.terms import terms_of, to_milli


def document(**terms: Any) -> dict[str, Any]:
    return {
        "format": "copymark.contract/v1",
        "contract_id": "terms",
        "version": 1,
        "subject": {"work": "work-1"},
        "currency": "USD",
        "ai_training": "licensed_separately",
        "parties": [
            {"id": "ada", "account": "acct:ada@example.com", "role": "creator", "share_bp": 10000}
        ],
        **terms,
    }


def test_a_package_sells_its_units_territories_and_term_at_its_fee() -> None:
    contract = parse_contract_data(
        document(
            wholesale={
                "packages": [
                    {
                        "id": "run",
                        "units": 500,
                        "term_months": 12,
                        "territories": ["US", "CN"],
                        "fee": {"amount_minor": 12_500, "currency": "USD"},
                    }
                ]
            }
        )
    )
    terms = terms_of(contract, "wholesale", "run")
    assert terms.price == Money(12_500, "USD")
    assert (terms.units, terms.territories, terms.term_months) == (500, ("US", "CN"), 12)
    assert not terms.per_unit
    assert not terms.worldwide
    assert terms.ai_training == "licensed_separately"


def test_volume_wholesale_is_priced_per_unit_from_its_first_tier() -> None:
    contract = parse_contract_data(
        document(
            wholesale={
                "volume_tiers": [
                    {"from_units": 1, "unit_price": {"amount_minor": 300, "currency": "USD"}},
                    {"from_units": 100, "unit_price": {"amount_minor": 200, "currency": "USD"}},
                ]
            }
        )
    )
    terms = terms_of(contract, "wholesale", None)
    assert terms.price == Money(300, "USD")
    assert terms.per_unit


def test_retail_has_no_price_up_front_but_a_royalty_rate() -> None:
    contract = parse_contract_data(document(retail={"tiers": [{"from_units": 0, "rate_bp": 850}]}))
    terms = terms_of(contract, "retail", None)
    assert terms.price is None
    assert terms.royalty_rate_bp == 850
    assert terms.worldwide
    assert terms.term_months is None


@pytest.mark.parametrize(
    ("price", "milli"),
    [(Money(12_50, "USD"), 12_500), (Money(1_000, "JPY"), 1_000_000), (Money(1_234, "BHD"), 1_234)],
)
def test_prices_compare_in_thousandths_of_their_major_unit(price: Money, milli: int) -> None:
    assert to_milli(price) == milli


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_milli_keeps_the_order_of_prices_in_one_currency(a: int, b: int) -> None:
    assert (to_milli(Money(a, "USD")) <= to_milli(Money(b, "USD"))) == (a <= b)
