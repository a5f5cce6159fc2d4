"""Statements: a party's month, every sale with its price, fee, split formula and log index."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pypdf
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from frontend.cli import app as cli
from registry.models import Work, utcnow
from settlement.stripe.sandbox import LocalStripe
from tests.functional.market.test_payouts_api import onboard, payout_round, sold
from tests.support.market import API, Market

TITLE = "锦鲤 Koi 鯉"


def titled_sale(market: Market, sandbox: LocalStripe) -> dict[str, Any]:
    sale = sold(market, sandbox)
    with market.services.session() as session:
        work = session.get(Work, sale["work_id"])
        assert work is not None
        work.title = TITLE
        session.add(work)
        session.commit()
    return sale


def this_month() -> str:
    return utcnow().strftime("%Y-%m")


def logged_at(market: Market, grant_id: int) -> int:
    paid = market.client.get(f"{API}/grants/{grant_id}/payments", headers=market.brand.headers)
    return int(paid.json()[0]["log_index"])


def test_a_statement_shows_the_sale_its_split_and_its_log_index_then_the_payout(
    market: Market, localstripe: LocalStripe
) -> None:
    sale = titled_sale(market, localstripe)
    onboard(market, market.alice)
    payout_round(market)
    shown = market.client.get(f"{API}/me/statements/{this_month()}", headers=market.alice.headers)
    assert shown.status_code == 200, shown.text
    (statement,) = shown.json()
    assert (statement["currency"], statement["opening_minor"]) == ("USD", 0)
    assert (statement["earned_minor"], statement["paid_out_minor"]) == (300_000, 300_000)
    assert statement["closing_minor"] == 0
    sale_line, payout_line = statement["lines"]
    assert (sale_line["kind"], sale_line["grant_id"], sale_line["work_title"]) == (
        "sale",
        sale["id"],
        TITLE,
    )
    assert (sale_line["price_minor"], sale_line["amount_minor"]) == (500_000, 300_000)
    assert sale_line["fee_minor"] is not None
    assert sale_line["split_formula"]
    assert sale_line["log_index"] == logged_at(market, sale["id"])
    assert (payout_line["kind"], payout_line["amount_minor"]) == ("payout", -300_000)

    periods = market.client.get(f"{API}/me/statements", headers=market.alice.headers).json()
    assert [(p["period"], p["earned_minor"]) for p in periods] == [(this_month(), 300_000)]
    bob = market.client.get(f"{API}/me/statements/{this_month()}", headers=market.bob.headers)
    assert [line["amount_minor"] for line in bob.json()[0]["lines"]] == [200_000]


def test_the_csv_statement_has_every_column_and_the_pdf_prints_the_chinese_title(
    market: Market, localstripe: LocalStripe
) -> None:
    sale = titled_sale(market, localstripe)
    month = this_month()
    exported = market.client.get(f"{API}/me/statements/{month}/csv", headers=market.alice.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(exported.text)))
    assert (row["kind"], row["work_title"], row["price_minor"], row["amount_minor"]) == (
        "sale",
        TITLE,
        "500000",
        "300000",
    )
    assert row["log_index"] == str(logged_at(market, sale["id"]))

    printed = market.client.get(f"{API}/me/statements/{month}/pdf", headers=market.alice.headers)
    assert printed.headers["content-type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(printed.content)).pages[0].extract_text()
    assert TITLE in text
    assert "3000.00" in text
    assert str(logged_at(market, sale["id"])) in text


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "26-11", "2026-1", "latest"])
def test_a_period_that_is_not_a_month_is_a_422(market: Market, period: str) -> None:
    for suffix in ("", "/csv", "/pdf"):
        answer = market.client.get(
            f"{API}/me/statements/{period}{suffix}", headers=market.alice.headers
        )
        assert answer.status_code == 422, answer.text
        assert "period" in answer.json()["detail"]


def test_a_statement_is_the_signed_in_partys_own(market: Market, localstripe: LocalStripe) -> None:
    titled_sale(market, localstripe)
    brand = market.client.get(f"{API}/me/statements/{this_month()}", headers=market.brand.headers)
    assert brand.json() == []
    assert market.client.get(f"{API}/me/statements/{this_month()}").status_code == 401


def test_the_cli_prints_a_statement_as_json_lines_and_writes_csv_and_pdf(
    market: Market,
    localstripe: LocalStripe,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    sale = titled_sale(market, localstripe)
    settings = market.services.settings
    monkeypatch.setenv("COPYMARK_HOME", str(settings.home))
    monkeypatch.setenv("COPYMARK_DATABASE_URL", settings.resolved_database_url)
    base = ["settlement", "statement", "--party", "alice@example.com", "--period", this_month()]
    printed = CliRunner().invoke(cli, [*base, "--json"])
    assert printed.exit_code == 0, printed.output
    records = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [(r["record"], r.get("log_index")) for r in records] == [
        ("line", logged_at(market, sale["id"])),
        ("total", None),
    ]
    assert records[1]["closing_minor"] == 300_000
    pdf = tmp_path / "statement.pdf"
    written = CliRunner().invoke(cli, [*base, "--format", "pdf", "-o", str(pdf)])
    assert written.exit_code == 0, written.output
    assert TITLE in pypdf.PdfReader(pdf).pages[0].extract_text()
    wrong = CliRunner().invoke(cli, [*base[:-1], "2026-13", "--json"])
    assert wrong.exit_code == 1
    assert "YYYY-MM" in wrong.output


def test_work_titles_that_spell_formulas_are_neutralised_in_the_csv(
    market: Market, localstripe: LocalStripe
) -> None:
    sale = sold(market, localstripe)
    with market.services.session() as session:
        work = session.exec(select(Work).where(Work.id == sale["work_id"])).one()
        work.title = '=HYPERLINK("http://evil.example","x")'
        session.add(work)
        session.commit()
    exported = market.client.get(
        f"{API}/me/statements/{this_month()}/csv", headers=market.alice.headers
    )
    (row,) = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["work_title"].startswith("'=")
