from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.errors import CurrencyMismatchError, InvalidAmountError, UnknownCurrencyError
from licensing.money import BasisPoints, Money, currency_exponent


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JPY", 0), ("USD", 2), ("EUR", 2), ("CNY", 2), ("KWD", 3), ("BHD", 3)],
)
def test_knows_the_minor_unit_exponent_of_common_currencies(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_refuses_an_unknown_currency() -> None:
    with pytest.raises(UnknownCurrencyError, match="'XYZ'"):
        Money(100, "XYZ")


@pytest.mark.parametrize("amount", [1.0, 12.5, "12", True, None])
def test_refuses_amounts_that_are_not_ints(amount: object) -> None:
    with pytest.raises(InvalidAmountError, match="integer number of minor units"):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_refuses_to_add_different_currencies() -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR"):
        Money(100, "USD") + Money(100, "EUR")


def test_adds_and_subtracts_within_a_currency() -> None:
    assert Money(150, "USD") + Money(50, "USD") - Money(25, "USD") == Money(175, "USD")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.50", "USD", 1250), ("1200", "JPY", 1200), ("1.234", "KWD", 1234), ("0.1", "EUR", 10)],
)
def test_parses_major_units_exactly(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(("text", "currency"), [("12.505", "USD"), ("1.5", "JPY")])
def test_parse_refuses_more_decimals_than_the_currency_has(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmountError, match="decimal places"):
        Money.parse(text, currency)


@pytest.mark.parametrize("text", ["1e3", "nan", "12,50", "", "0x10"])
def test_parse_refuses_text_that_is_not_a_plain_decimal(text: str) -> None:
    with pytest.raises(InvalidAmountError, match="not a decimal number"):
        Money.parse(text, "USD")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["USD", "JPY", "KWD"]))
def test_formatting_and_parsing_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.parse(money.format_major(), currency) == money


@pytest.mark.parametrize("value", [-1, 10_001, 2.5])
def test_basis_points_refuse_values_outside_the_whole(value: object) -> None:
    with pytest.raises(InvalidAmountError):
        BasisPoints(value)  # type: ignore[arg-type]
