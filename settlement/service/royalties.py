"""Retail royalties on the ledger: each sales report owed by its licensee to the parties.

Posted in the transaction that records the report, as one entry per report under the key
`royalty-report:<grant id>:<report id>`: each party's line is the sum of its allocations over
the report's lines, so the entry gives every party exactly its cents and balances against the
licensee's receivable. A replayed report (same id, same lines) posts nothing new. A correction
reverses the entry of the report it replaces before posting its own, so the parties' payables
follow the correction. Reports stored before entries were per report were posted one entry per
line (`sales-report:<line id>`); a correction of one of those reverses each of its lines.
"""

from __future__ import annotations

from sqlmodel import Session

from licensing.models import SalesReport
from licensing.repository import report_rows
from licensing.service.sales import ReportedLine, ReportOutcome
from registry.messages import N_
from registry.models import persisted_id
from settlement import repository
from settlement.errors import PaymentStateError
from settlement.ledger import EntryDraft
from settlement.postings import report_entry_key, report_shares, royalty_entry
from settlement.service.holds import hold_if_disputed
from settlement.service.invoices import paid_report
from settlement.service.ledger import Posted, post_entries, reversal_of

LINE_KEY_PREFIX = "sales-report:"


def _line_key(row: SalesReport | ReportedLine) -> str:
    return f"{LINE_KEY_PREFIX}{row.id}"


def _reversals(session: Session, grant_id: int, replaced_report: str) -> list[EntryDraft]:
    key = report_entry_key(grant_id, replaced_report)
    if repository.entry_with_key(session, key) is not None:
        return [reversal_of(session, key, f"reversal:{key}")]
    posted = repository.entries_with_keys(
        session, [_line_key(row) for row in report_rows(session, grant_id, replaced_report)]
    )
    return [reversal_of(session, line_key, f"reversal:{line_key}") for line_key in sorted(posted)]


def post_royalties(session: Session, outcome: ReportOutcome) -> list[Posted]:
    """Post what a stored sales report makes the licensee owe, reversing what it corrects."""
    key = report_entry_key(outcome.grant_id, outcome.report_id)
    if outcome.replayed:
        keys = [key, *(_line_key(row) for row in outcome.rows)]
        return [
            Posted(persisted_id(entry), entry.external_key, entry.digest, replayed=True)
            for entry in repository.entries_with_keys(session, keys).values()
        ]
    drafts: list[EntryDraft] = []
    if outcome.corrects_report_id is not None:
        if paid_report(session, outcome.grant_id, outcome.corrects_report_id) is not None:
            raise PaymentStateError(
                N_(
                    "report %(report)s is already paid, so it cannot be corrected: report the "
                    "difference as a new report"
                ),
                report=outcome.corrects_report_id,
            )
        drafts.extend(_reversals(session, outcome.grant_id, outcome.corrects_report_id))
    shares = report_shares((row.execution for row in outcome.rows), outcome.royalties.currency)
    if shares:
        drafts.append(royalty_entry(key, outcome.grant_id, shares))
    posted = post_entries(session, drafts) if drafts else []
    if shares:
        hold_if_disputed(session, outcome.work_id, key, shares)
    return posted
