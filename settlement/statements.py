"""A party's statement for one month: every movement of what it is owed, as CSV and as PDF.

Each line is one journal entry on the party's payable account: a sale (its price, the
processor's fee, the split formula that gave the party its amount, and the log index of the
settled split a court or counterparty can check), a royalty report line, a refund, a hold or a
payout. The opening balance plus the lines is the closing balance, to the minor unit.

The PDF is drawn with WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`, in the Makefile's system
packages) so that Chinese, Japanese and Korean titles print as written; without it no PDF is made
(503 naming the package) rather than one with missing glyphs.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF

from licensing.money import Money
from registry.messages import N_
from settlement.errors import StatementFontMissingError, StatementPeriodError

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
_PERIOD = re.compile(r"(?P<year>20[0-9]{2})-(?P<month>0[1-9]|1[0-2])")
CSV_COLUMNS = (
    "date",
    "kind",
    "grant_id",
    "work_id",
    "work_title",
    "sale_type",
    "price_minor",
    "fee_minor",
    "split_formula",
    "amount_minor",
    "currency",
    "log_index",
    "reference",
)


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month in UTC, `YYYY-MM`."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.fullmatch(text)
        if match is None:
            raise StatementPeriodError(
                N_("%(text)s is not a statement period: write a month as YYYY-MM, e.g. 2026-11"),
                text=repr(text[:20]),
            )
        return cls(int(match["year"]), int(match["month"]))

    @classmethod
    def of(cls, moment: datetime) -> Period:
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement of the party's payable: positive when owed more, negative when less."""

    posted_at: datetime
    kind: str
    grant_id: int | None
    work_id: int | None
    work_title: str
    sale_type: str
    price_minor: int | None
    fee_minor: int | None
    split_formula: str
    amount_minor: int
    currency: str
    log_index: int | None
    reference: str


@dataclass(frozen=True, slots=True)
class Statement:
    """One party's month, in one currency."""

    party: str
    period: Period
    currency: str
    opening_minor: int
    lines: list[StatementLine]

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + sum(line.amount_minor for line in self.lines)

    @property
    def earned_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind in ("sale", "royalty"))

    @property
    def paid_out_minor(self) -> int:
        return -sum(line.amount_minor for line in self.lines if line.kind == "payout")


def to_csv(statements: list[Statement]) -> str:
    """Every line of the statements as CSV, one header row, amounts in minor units."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for statement in statements:
        for line in statement.lines:
            writer.writerow(
                [
                    line.posted_at.isoformat(timespec="seconds"),
                    line.kind,
                    line.grant_id if line.grant_id is not None else "",
                    line.work_id if line.work_id is not None else "",
                    _neutralised(line.work_title),
                    line.sale_type,
                    line.price_minor if line.price_minor is not None else "",
                    line.fee_minor if line.fee_minor is not None else "",
                    line.split_formula,
                    line.amount_minor,
                    line.currency,
                    line.log_index if line.log_index is not None else "",
                    line.reference,
                ]
            )
    return out.getvalue()


def _neutralised(text: str) -> str:
    # A title is typed by a user; a spreadsheet would run one starting with = + - @ as a formula.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _money(amount_minor: int | None, currency: str) -> str:
    return "" if amount_minor is None else Money(amount_minor, currency).format_major()


def to_pdf(statements: list[Statement], *, party: str, period: Period, title: str) -> bytes:
    """The statements as a PDF: a table per currency with the totals, CJK text drawn as written."""
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    family = _font(pdf)
    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    pdf.multi_cell(0, 6, f"{party} · {period}", new_x="LMARGIN", new_y="NEXT")
    widths = (24, 16, 14, 58, 18, 24, 20, 62, 24, 17)
    headings = (
        "Date",
        "Kind",
        "Grant",
        "Work",
        "Type",
        "Price",
        "Fee",
        "Split formula",
        "Amount",
        "Log",
    )
    if not statements:
        pdf.ln(4)
        pdf.multi_cell(0, 6, "Nothing moved in this period.", new_x="LMARGIN", new_y="NEXT")
    for statement in statements:
        currency = statement.currency
        pdf.ln(4)
        pdf.set_font(family, size=12)
        pdf.multi_cell(
            0,
            7,
            f"{currency}: opening {_money(statement.opening_minor, currency)}, "
            f"earned {_money(statement.earned_minor, currency)}, "
            f"paid out {_money(statement.paid_out_minor, currency)}, "
            f"closing {_money(statement.closing_minor, currency)}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font(family, size=8)
        for width, heading in zip(widths, headings, strict=True):
            pdf.cell(width, 6, heading, border="B")
        pdf.ln()
        for line in statement.lines:
            cells = (
                line.posted_at.strftime("%Y-%m-%d"),
                line.kind,
                str(line.grant_id or ""),
                f"{line.work_id or ''} {line.work_title}".strip(),
                line.sale_type,
                _money(line.price_minor, currency),
                _money(line.fee_minor, currency),
                line.split_formula,
                _money(line.amount_minor, currency),
                "" if line.log_index is None else str(line.log_index),
            )
            for width, text in zip(widths, cells, strict=True):
                pdf.cell(width, 5, _fit(pdf, text, width))
            pdf.ln()
    return bytes(pdf.output())


def _fit(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width - 1:
        return text
    while text and pdf.get_string_width(text + "…") > width - 1:
        text = text[:-1]
    return text + "…"


def _font(pdf: FPDF) -> str:
    if not CJK_FONT.exists():
        raise StatementFontMissingError(
            N_("statement PDFs need the font %(font)s (Debian package fonts-wqy-microhei)"),
            font=str(CJK_FONT),
        )
    pdf.add_font("statement", fname=str(CJK_FONT))
    return "statement"
