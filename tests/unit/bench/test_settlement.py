"""Report streams run at once on PostgreSQL: every line is recorded, split, posted and logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bench.settlement import _ingest_concurrently
from frontend.cli.scratch import scratch_app
from licensing.models import SalesReport
from registry.log.store import verify_log
from settlement.models import JournalEntry
from settlement.postings import REPORT_KEY_PREFIX
from settlement.repository import balances

pytestmark = pytest.mark.postgres


def test_concurrent_streams_post_every_report_once_and_the_books_balance(
    postgres_database_url: str, model_cache: Path, tmp_path: Path
) -> None:
    open_app = scratch_app(model_cache, postgres_database_url)
    with open_app(tmp_path) as app:
        rate = _ingest_concurrently(open_app, tmp_path, app, streams=2, sales=600, batch=250)
        with app.session() as session:
            gross_by_grant = dict(
                session.exec(
                    select(SalesReport.grant_id, func.sum(SalesReport.gross_minor)).group_by(
                        col(SalesReport.grant_id)
                    )
                ).all()
            )
            entries_by_grant = dict(
                session.exec(
                    select(JournalEntry.grant_id, func.count())
                    .where(col(JournalEntry.external_key).startswith(REPORT_KEY_PREFIX))
                    .group_by(col(JournalEntry.grant_id))
                ).all()
            )
            totals: dict[str, int] = {}
            for (_code, currency), amount in balances(session).items():
                totals[currency] = totals.get(currency, 0) + amount
            verification = verify_log(session, app.signer.public_key)
    assert rate > 0
    assert len(gross_by_grant) == 2
    # Both streams report the same lines, so their royalties agree to the cent.
    first, second = gross_by_grant.values()
    assert first == second > 0
    # 600 lines in reports of 250: three reports, each posted once.
    assert sorted(entries_by_grant.values()) == [3, 3]
    assert totals == {"USD": 0}
    assert verification.ok, verification
