"""Statements and royalty history of one party, read from the ledger and what each entry settled.

A party is only ever shown its own account (`acct:<email>` of the signed-in user, or one an
administrator names in the CLI); every figure is a journal line on that account, explained by
the grant, payment or sales report line its entry accounts for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from licensing.models import LicenseGrant, SalesReport
from licensing.repository import report_rows
from registry.messages import N_
from registry.models import Work, persisted_id
from settlement import repository
from settlement.errors import LedgerIntegrityError
from settlement.ledger import PartyAccount, PlatformAccount, party_account, platform_account
from settlement.models import JournalEntry
from settlement.postings import parse_report_entry_key
from settlement.statements import Period, Statement, StatementLine

_KINDS = {"payment": "sale", "royalty": "royalty", "reversal": "correction"}


@dataclass(frozen=True, slots=True)
class RoyaltyPoint:
    """What a party earned (sales and royalties, less refunds) in one month on one work."""

    period: str
    work_id: int | None
    work_title: str
    currency: str
    amount_minor: int


def _formula(execution: Mapping[str, Any], reference: str) -> str:
    rules = [
        str(line.get("rule", ""))
        for line in execution.get("allocations", [])
        if line.get("account") == reference and line.get("amount_minor")
    ]
    return "; ".join(rule for rule in rules if rule)


def _party_amount(execution: Mapping[str, Any], reference: str) -> int:
    return sum(
        int(line["amount_minor"])
        for line in execution.get("allocations", [])
        if line.get("account") == reference
    )


def _lines(
    session: Session, reference: str, entry: JournalEntry, currency: str, amount: int
) -> list[StatementLine]:
    """The statement lines one entry on the party's payable makes: a report's royalty entry is
    shown as each sale it covers, with that sale's split and the leaf that logged it."""
    report = parse_report_entry_key(entry.external_key) if entry.kind == "royalty" else None
    if report is None:
        return [_line(session, reference, entry, currency, amount)]
    grant_id, report_id = report
    grant = session.get(LicenseGrant, grant_id)
    work = session.get(Work, grant.work_id) if grant is not None else None
    lines = [
        StatementLine(
            posted_at=entry.posted_at,
            kind="royalty",
            grant_id=grant_id,
            work_id=work.id if work is not None else None,
            work_title=work.title if work is not None else "",
            sale_type=grant.sale_type if grant is not None else "",
            price_minor=row.gross_minor,
            fee_minor=None,
            split_formula=_formula(row.execution, reference),
            amount_minor=_party_amount(row.execution, reference),
            currency=currency,
            log_index=row.log_index,
            reference=f"{entry.external_key}#{row.line_number}",
        )
        for row in report_rows(session, grant_id, report_id)
        if _party_amount(row.execution, reference)
    ]
    if sum(line.amount_minor for line in lines) != -amount:
        raise LedgerIntegrityError(
            N_("entry %(entry)s does not match the lines of the report it posted"),
            entry=entry.external_key,
        )
    return lines


def _line(
    session: Session, reference: str, entry: JournalEntry, currency: str, amount: int
) -> StatementLine:
    grant = session.get(LicenseGrant, entry.grant_id) if entry.grant_id is not None else None
    work = session.get(Work, grant.work_id) if grant is not None else None
    price: int | None = None
    fee: int | None = None
    log_index: int | None = None
    formula = ""
    if entry.kind == "payment":
        payment = repository.payment_of_entry(session, persisted_id(entry))
        fees = platform_account(PlatformAccount.PROCESSOR_FEES)
        fee = sum(
            line_amount
            for code, _currency, line_amount in repository.lines_of(session, persisted_id(entry))
            if code == fees
        )
        if payment is not None:
            price, log_index = payment.amount_minor, payment.log_index
        if grant is not None:
            formula = _formula(grant.execution, reference)
    elif entry.kind == "royalty" and entry.external_key.startswith("sales-report:"):
        row = session.get(SalesReport, int(entry.external_key.removeprefix("sales-report:")))
        if row is not None:
            price, log_index = row.gross_minor, row.log_index
            formula = _formula(row.execution, reference)
    elif grant is not None and entry.kind == "refund":
        formula = _formula(grant.execution, reference)
    return StatementLine(
        posted_at=entry.posted_at,
        kind=_KINDS.get(entry.kind, entry.kind),
        grant_id=entry.grant_id,
        work_id=work.id if work is not None else None,
        work_title=work.title if work is not None else "",
        sale_type=grant.sale_type if grant is not None else "",
        price_minor=price,
        fee_minor=fee,
        split_formula=formula,
        # A credit to the payable (negative line) is money the party is owed: shown positive.
        amount_minor=-amount,
        currency=currency,
        log_index=log_index,
        reference=entry.external_key,
    )


def statements_for(session: Session, reference: str, period: Period) -> list[Statement]:
    """The party's statement for the month, one per currency that moved or had a balance."""
    code = party_account(reference, PartyAccount.PAYABLE)
    opening = repository.balance_before(session, code, period.start)
    lines: dict[str, list[StatementLine]] = defaultdict(list)
    for entry, currency, amount in repository.entries_on_account(
        session, code, period.start, period.end
    ):
        lines[currency].extend(_lines(session, reference, entry, currency, amount))
    return [
        Statement(
            party=reference,
            period=period,
            currency=currency,
            opening_minor=-opening.get(currency, 0),
            lines=lines.get(currency, []),
        )
        for currency in sorted(set(lines) | {c for c, v in opening.items() if v})
    ]


def statement_periods(session: Session, reference: str) -> list[Period]:
    """Every month in which the party's payable moved, newest first."""
    code = party_account(reference, PartyAccount.PAYABLE)
    months = {
        Period.of(entry.posted_at) for entry, _c, _a in repository.entries_on_account(session, code)
    }
    return sorted(months, key=lambda p: (p.year, p.month), reverse=True)


def royalty_history(session: Session, reference: str) -> list[RoyaltyPoint]:
    """What the party earned per month and work: sales and royalties, net of refunds (those of
    a sale held by a dispute come out of held rather than payable)."""
    code = party_account(reference, PartyAccount.PAYABLE)
    totals: dict[tuple[str, int | None, str], int] = defaultdict(int)
    titles: dict[int | None, str] = {}
    held_refunds = [
        row
        for row in repository.entries_on_account(
            session, party_account(reference, PartyAccount.HELD)
        )
        if row[0].kind == "refund"
    ]
    for entry, currency, amount in [*repository.entries_on_account(session, code), *held_refunds]:
        if entry.kind not in ("payment", "royalty", "refund", "reversal"):
            continue
        line = _line(session, reference, entry, currency, amount)
        titles[line.work_id] = line.work_title
        totals[(str(Period.of(entry.posted_at)), line.work_id, currency)] += line.amount_minor
    return [
        RoyaltyPoint(period, work_id, titles.get(work_id, ""), currency, amount)
        for (period, work_id, currency), amount in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or 0, item[0][2])
        )
    ]
