"""CSV sales reports: exact amounts, refusals that name the line and the problem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from licensing.errors import InvalidSaleEventError, LicensingError
from licensing.money import Money
from licensing.reports import parse_sales_csv
from licensing.schemas import SalesLineCreate
from licensing.service.sales import SalesLine


def test_decimal_amounts_are_read_exactly() -> None:
    lines = parse_sales_csv("units,net_revenue,channel,territory\n3,0.30,web,FR\n", "USD")
    assert lines == [SalesLine(3, Money(30, "USD"), "web", "FR")]


def test_minor_units_are_read_as_given() -> None:
    assert parse_sales_csv("units,net_revenue_minor\n1,1999\n", "JPY")[0].net_revenue == Money(
        1999, "JPY"
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("units,net_revenue_minor\n1,12.5\n", "line 2: net_revenue_minor must be a whole number"),
        ("units,net_revenue\n1,1.005\n", "more than 2 decimal places"),
        ("units,net_revenue\n1.5,1.00\n", "units must be a whole number"),
        ("units,net_revenue\n-1,1.00\n", "units must be a whole number"),
        ("units,net_revenue\n1,1e3\n", "not a decimal number"),
        ("units,net_revenue\n1,NaN\n", "not a decimal number"),
        ("units,price\n1,1\n", "unknown CSV columns price"),
        ("units\n1\n", "needs 'units' and one of"),
        ("units,net_revenue\n1,1.00,extra\n", "more fields than the header"),
        ("units,net_revenue\n١,1.00\n", "units must be a whole number"),
    ],
)
def test_bad_csv_is_refused_naming_the_problem(text: str, phrase: str) -> None:
    with pytest.raises(InvalidSaleEventError, match=phrase):
        parse_sales_csv(text, "USD")


@given(st.text(max_size=500))
def test_any_text_is_read_or_refused_with_a_licensing_error(text: str) -> None:
    try:
        lines = parse_sales_csv(text, "USD")
    except LicensingError:
        return
    assert all(line.net_revenue.currency == "USD" for line in lines)


@pytest.mark.parametrize(
    ("json_line", "csv_row"),
    [
        ({"units": 1, "net_revenue_minor": 100, "channel": "x" * 129}, f"1,1.00,{'x' * 129},"),
        ({"units": 1, "net_revenue_minor": 100, "territory": "fr"}, "1,1.00,web,fr"),
        ({"units": 2**53, "net_revenue_minor": 100}, f"{2**53},1.00,,"),
        ({"units": 1, "net_revenue_minor": 2**53}, f"1,{2**51}.00,,"),
    ],
)
def test_csv_and_json_lines_are_refused_by_the_same_rules(
    json_line: dict[str, object], csv_row: str
) -> None:
    with pytest.raises(ValidationError):
        SalesLineCreate.model_validate(json_line)
    with pytest.raises(InvalidSaleEventError, match="CSV line 2"):
        parse_sales_csv(f"units,net_revenue,channel,territory\n{csv_row}\n", "USD")


@pytest.mark.parametrize("amount", ["١.00", "１.00", "-1.00", "1.٠٠"])
def test_a_csv_amount_in_other_digits_or_below_zero_is_refused(amount: str) -> None:
    with pytest.raises(InvalidSaleEventError, match="CSV line 2: net_revenue"):
        parse_sales_csv(f"units,net_revenue\n1,{amount}\n", "USD")


def test_a_100_kb_channel_is_refused_in_csv_as_in_json() -> None:
    with pytest.raises(InvalidSaleEventError, match="channel"):
        parse_sales_csv(f"units,net_revenue,channel\n1,1.00,{'c' * 100_000}\n", "USD")
