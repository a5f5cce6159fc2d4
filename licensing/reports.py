"""Sales reports sent as CSV: every amount is read exactly, a float-looking minor unit is refused.

Header row, then one row per line. Columns: `units` (whole number), and either `net_revenue`
(decimal major units, e.g. 12.50, at most the currency's decimals) or `net_revenue_minor`
(whole minor units); optional `channel` and `territory`. Unknown columns are refused so a typo
does not silently drop data.
"""

from __future__ import annotations

import csv
import io

from licensing.errors import InvalidSaleEventError, LicensingError
from licensing.money import Money
from licensing.service.sales import MAX_REPORT_LINES, SalesLine, read_sales_line
from licensing.wording import located
from registry.errors import CopymarkError
from registry.messages import N_, Message, Param

MAX_CSV_BYTES = 4 * 1024 * 1024
_COLUMNS = {"units", "net_revenue", "net_revenue_minor", "channel", "territory"}


def _whole_number(text: str, what: Param) -> int:
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidSaleEventError(
            N_("%(what)s must be a whole number, got %(value)s"), what=what, value=repr(text[:40])
        )
    return int(cleaned)


def _line(row: dict[str, str], currency: str, number: int) -> SalesLine:
    """A row read as text, then checked by the same rules as a line sent as JSON."""
    where = Message(N_("CSV line %(line)s"), {"line": number})
    units = _whole_number(row.get("units") or "", located(where, "units"))
    if row.get("net_revenue_minor"):
        minor = _whole_number(row["net_revenue_minor"], located(where, "net_revenue_minor"))
    else:
        try:
            minor = Money.parse(row.get("net_revenue") or "", currency).amount_minor
        except LicensingError as error:
            raise InvalidSaleEventError(
                N_("%(field)s: %(problem)s"),
                field=located(where, "net_revenue"),
                problem=error.wording,
            ) from None
    fields = {
        "units": units,
        "net_revenue_minor": minor,
        "channel": (row.get("channel") or "").strip() or None,
        "territory": (row.get("territory") or "").strip() or None,
    }
    return read_sales_line(fields, currency, where)


def parse_sales_csv(text: str, currency: str, *, lines_before: int = 0) -> list[SalesLine]:
    """Read a CSV sales report into lines in the given currency; a problem names its line, counted
    after `lines_before` lines of the whole report that this text leaves out."""
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise InvalidSaleEventError(N_("the CSV report exceeds %(most)s bytes"), most=MAX_CSV_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or [])
    unknown = sorted(header - _COLUMNS)
    if unknown:
        raise InvalidSaleEventError(
            N_("unknown CSV columns %(unknown)s; expected %(columns)s"),
            unknown=", ".join(unknown),
            columns=", ".join(sorted(_COLUMNS)),
        )
    if "units" not in header or not header & {"net_revenue", "net_revenue_minor"}:
        raise InvalidSaleEventError(
            N_("the CSV header needs 'units' and one of 'net_revenue' or 'net_revenue_minor'")
        )
    lines = []
    try:
        for row in reader:
            if None in row:
                raise InvalidSaleEventError(
                    N_("CSV line %(line)s has more fields than the header"),
                    line=reader.line_num + lines_before,
                )
            lines.append(_line(row, currency, reader.line_num + lines_before))
            if len(lines) > MAX_REPORT_LINES:
                raise InvalidSaleEventError(
                    N_("a report has at most %(most)s lines"), most=MAX_REPORT_LINES
                )
    except csv.Error as error:
        raise InvalidSaleEventError(N_("not valid CSV: %(reason)s"), reason=str(error)) from None
    return lines


def sales_csv_problems(data: bytes, currency: str) -> list[Message]:
    """Every line's problem, not only the first: each line is read on its own under the header."""
    if len(data) > MAX_CSV_BYTES:
        return [Message(N_("the CSV report exceeds %(most)s bytes"), {"most": MAX_CSV_BYTES})]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [Message(N_("the file is not UTF-8 text: save the report as CSV (UTF-8)"))]
    rows = text.splitlines()
    if not rows:
        return [Message(N_("the file is empty: it needs a header row and one row per sale"))]
    header = rows[0]
    try:
        parse_sales_csv(header + "\n", currency)
    except CopymarkError as error:
        return [error.wording]
    problems = []
    for number, row in enumerate(rows[1:], start=2):
        if not row.strip():
            continue
        try:
            parse_sales_csv(f"{header}\n{row}\n", currency, lines_before=number - 2)
        except CopymarkError as error:
            problems.append(error.wording)
    if len(rows) < 2:
        problems.append(Message(N_("the report has no sales lines under its header")))
    return problems
