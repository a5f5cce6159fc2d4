"""Retail royalties on the ledger: each sales report line owed by its licensee to the parties.

Posted in the transaction that records the report, under the key `sales-report:<line id>`, so a
replayed report (same id, same lines) posts nothing new. A correction reverses the lines of the
report it replaces before posting its own, so the parties' payables follow the correction.
"""

from __future__ import annotations

from sqlmodel import Session

from licensing.models import SalesReport
from licensing.repository import report_rows
from licensing.service.sales import ReportOutcome
from registry.models import persisted_id
from settlement.ledger import EntryDraft
from settlement.postings import royalty_entry, shares_of
from settlement.service.ledger import Posted, post_entries, reversal_of


def _key(row: SalesReport) -> str:
    return f"sales-report:{persisted_id(row)}"


def post_royalties(session: Session, outcome: ReportOutcome) -> list[Posted]:
    """Post what a stored sales report makes the licensee owe, reversing what it corrects."""
    drafts: list[EntryDraft] = []
    if outcome.corrects_report_id is not None and not outcome.replayed:
        for replaced in report_rows(session, outcome.grant_id, outcome.corrects_report_id):
            if replaced.gross_minor:
                drafts.append(reversal_of(session, _key(replaced), f"reversal:{_key(replaced)}"))
    drafts.extend(
        royalty_entry(_key(row), outcome.grant_id, shares_of(row.execution))
        for row in outcome.rows
        if any(line.get("account") for line in row.execution["allocations"] if line["amount_minor"])
    )
    return post_entries(session, drafts) if drafts else []
