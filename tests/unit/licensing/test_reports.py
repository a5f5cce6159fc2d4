"""CSV sales reports: exact amounts, refusals that name the line and the problem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.errors import InvalidSaleEventError, LicensingError
from licensing.money import Money
from licensing.reports import parse_sales_csv
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
