"""A work's royalty history: its counted sales reports with what each party was allocated.

Only the work's owner and the accounts named as parties in its contracts see it
(`repository.royalty_work`); anyone else is answered as if the work did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from licensing import repository
from licensing.models import SalesReport
from licensing.money import Money
from licensing.service.sales import owed_by_party
from registry.models import User, persisted_id


@dataclass(frozen=True, slots=True)
class RoyaltyReport:
    """One counted sales report on a work: its gross royalty and what each party was allocated."""

    grant_id: int
    report_id: str
    reported_at: datetime
    gross: Money
    amounts: tuple[tuple[str, int], ...]


def sales_history(session: Session, viewer: User, work_id: int) -> list[RoyaltyReport]:
    """Return the work's counted sales reports, oldest first, with each party's allocated sum.

    Only the work's owner and the accounts named as parties in one of its contract versions
    may see it; anyone else is answered as if the work did not exist. Corrected reports no
    longer count and are left out; their corrections appear in their place.
    """
    repository.royalty_work(session, viewer, work_id)
    reports: dict[tuple[int, str], list[SalesReport]] = {}
    for grant_id in repository.grant_ids_of_work(session, work_id):
        for row in repository.counted_rows(session, grant_id):
            reports.setdefault((grant_id, row.report_key), []).append(row)
    ordered = sorted(reports.items(), key=lambda item: min(persisted_id(row) for row in item[1]))
    return [
        RoyaltyReport(
            grant_id=grant_id,
            report_id=report_id,
            reported_at=min(row.reported_at for row in rows),
            gross=Money(sum(row.gross_minor for row in rows), rows[0].currency),
            amounts=tuple(sorted(owed_by_party(rows).items())),
        )
        for (grant_id, report_id), rows in ordered
    ]
