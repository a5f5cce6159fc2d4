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

MAX_CSV_BYTES = 4 * 1024 * 1024
_COLUMNS = {"units", "net_revenue", "net_revenue_minor", "channel", "territory"}


def _whole_number(text: str, what: str) -> int:
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidSaleEventError(f"{what} must be a whole number, got {text[:40]!r}")
    return int(cleaned)


def _line(row: dict[str, str], currency: str, number: int) -> SalesLine:
    """A row read as text, then checked by the same rules as a line sent as JSON."""
    where = f"CSV line {number}"
    units = _whole_number(row.get("units") or "", f"{where}: units")
    if row.get("net_revenue_minor"):
        minor = _whole_number(row["net_revenue_minor"], f"{where}: net_revenue_minor")
    else:
        try:
            minor = Money.parse(row.get("net_revenue") or "", currency).amount_minor
        except LicensingError as error:
            raise InvalidSaleEventError(f"{where}: net_revenue: {error}") from None
    fields = {
        "units": units,
        "net_revenue_minor": minor,
        "channel": (row.get("channel") or "").strip() or None,
        "territory": (row.get("territory") or "").strip() or None,
    }
    return read_sales_line(fields, currency, where)


def parse_sales_csv(text: str, currency: str) -> list[SalesLine]:
    """Read a CSV sales report into lines in the given currency."""
    if len(text.encode("utf-8")) > MAX_CSV_BYTES:
        raise InvalidSaleEventError(f"the CSV report exceeds {MAX_CSV_BYTES} bytes")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or [])
    unknown = sorted(header - _COLUMNS)
    if unknown:
        raise InvalidSaleEventError(
            f"unknown CSV columns {', '.join(unknown)}; expected {', '.join(sorted(_COLUMNS))}"
        )
    if "units" not in header or not header & {"net_revenue", "net_revenue_minor"}:
        raise InvalidSaleEventError(
            "the CSV header needs 'units' and one of 'net_revenue' or 'net_revenue_minor'"
        )
    lines = []
    try:
        for row in reader:
            if None in row:
                raise InvalidSaleEventError(
                    f"CSV line {reader.line_num} has more fields than the header"
                )
            lines.append(_line(row, currency, reader.line_num))
            if len(lines) > MAX_REPORT_LINES:
                raise InvalidSaleEventError(f"a report has at most {MAX_REPORT_LINES} lines")
    except csv.Error as error:
        raise InvalidSaleEventError(f"not valid CSV: {error}") from None
    return lines
