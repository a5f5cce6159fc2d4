"""Retail sales reports under a grant: each line's royalty split, named reports, corrections.

The use case takes the session and the licensee and never commits. A report is ingested as a
batch: what earlier lines add up to is read once (a sum in the database), every line is split
in memory, the report's splits are appended to the attestation log as one `license_report` leaf
per `REPORT_LEAF_LINES` lines, and the lines are written in one statement, all in the caller's
transaction, so a line never exists without the leaf that covers it. Reports under one grant
queue on the grant's row (`repository.lock_licensee_grant`): tiers, the cap and recoupment count
every line still counted before them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from licensing import repository
from licensing.contract import Contract, parse_contract_data
from licensing.engine import RetailSale, execute
from licensing.errors import CurrencyMismatchError, InvalidSaleEventError
from licensing.events import (
    REPORT_LEAF_LINES,
    ReportSplitEvent,
    report_openings,
)
from licensing.models import ContractVersion, LicenseGrant, SalesReport
from licensing.money import MAX_AMOUNT_MINOR, Money
from licensing.schemas import SalesLineCreate
from licensing.service.contracts import compiled
from licensing.wording import in_words, located
from registry.errors import Conflict, NotFound
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_, Param, problems_listed
from registry.models import User, persisted_id, utcnow

REPORT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
MAX_REPORT_LINES = 10_000


@dataclass(frozen=True, slots=True)
class SalesLine:
    """One line a licensee reports: units sold and their net revenue, by channel and territory."""

    units: int
    net_revenue: Money
    channel: str | None = None
    territory: str | None = None

    @classmethod
    def of(cls, line: SalesLineCreate, currency: str) -> SalesLine:
        """The line a validated request line stands for, in the report's currency."""
        return cls(
            units=line.units,
            net_revenue=Money(line.net_revenue_minor, currency),
            channel=line.channel,
            territory=line.territory,
        )


def read_sales_line(fields: Mapping[str, object], currency: str, where: Param) -> SalesLine:
    """Validate one line however it was sent (JSON or CSV) by the one set of rules for a line.

    The rules are `SalesLineCreate`'s, the same the JSON API publishes in its schema, so a
    line refused in one format is refused in the other, and the message names where it was.
    """
    try:
        line = SalesLineCreate.model_validate(fields)
    except ValidationError as error:
        problems = problems_listed(
            [
                located(".".join(str(part) for part in item["loc"]), item["msg"])
                for item in error.errors(include_input=False)
            ]
        )
        raise InvalidSaleEventError(
            N_("%(field)s: %(problem)s"), field=where, problem=problems
        ) from None
    return SalesLine.of(line, currency)


@dataclass(frozen=True, slots=True)
class ReportedLine:
    """One stored line of a sales report, as the report's outcome shows it."""

    id: int
    grant_id: int
    line_number: int
    units: int
    net_revenue_minor: int
    channel: str | None
    territory: str | None
    gross_minor: int
    recouped_minor: int
    currency: str
    execution: dict[str, Any]
    log_index: int | None

    @classmethod
    def of(cls, row: SalesReport) -> ReportedLine:
        """The outcome's view of a stored row."""
        return cls(
            id=persisted_id(row),
            grant_id=row.grant_id,
            line_number=row.line_number,
            units=row.units,
            net_revenue_minor=row.net_revenue_minor,
            channel=row.channel,
            territory=row.territory,
            gross_minor=row.gross_minor,
            recouped_minor=row.recouped_minor,
            currency=row.currency,
            execution=row.execution,
            log_index=row.log_index,
        )


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """A stored sales report: its lines, their splits and what it changes in royalties owed.

    `owed` sums the report's allocations by party; for a correction it is the change against
    the report it replaces, so it may be negative. `replayed` is true when the same report was
    already recorded and nothing new was written.
    """

    grant_id: int
    work_id: int
    report_id: str
    corrects_report_id: str | None
    rows: tuple[ReportedLine, ...]
    royalties: Money
    owed: tuple[tuple[str, int], ...]
    replayed: bool


def _same_lines(rows: Sequence[SalesReport], lines: Sequence[SalesLine], currency: str) -> bool:
    stored = [(r.units, r.net_revenue_minor, r.currency, r.channel, r.territory) for r in rows]
    sent = [
        (line.units, line.net_revenue.amount_minor, currency, line.channel, line.territory)
        for line in lines
    ]
    return stored == sent


def owed_by_party(rows: Sequence[SalesReport | ReportedLine]) -> dict[str, int]:
    owed: dict[str, int] = {}
    for row in rows:
        for line in row.execution["allocations"]:
            owed[line["party"]] = owed.get(line["party"], 0) + int(line["amount_minor"])
    return owed


def _outcome(
    grant: LicenseGrant,
    report_id: str,
    corrects: str | None,
    rows: Sequence[ReportedLine],
    replaced: Sequence[SalesReport],
    *,
    replayed: bool,
) -> ReportOutcome:
    owed = owed_by_party(rows)
    for party, amount in owed_by_party(replaced).items():
        owed[party] = owed.get(party, 0) - amount
    return ReportOutcome(
        grant_id=persisted_id(grant),
        work_id=grant.work_id,
        report_id=report_id,
        corrects_report_id=corrects,
        rows=tuple(rows),
        royalties=Money(sum(row.gross_minor for row in rows), grant.currency),
        owed=tuple(sorted(owed.items())),
        replayed=replayed,
    )


def submit_sales_report(
    session: Session,
    licensee: User,
    grant_id: int,
    *,
    report_id: str,
    lines: Sequence[SalesLine],
    log: AttestationLog,
    corrects: str | None = None,
) -> ReportOutcome:
    """Record a retail sales report under the licensee's grant and split each line's royalty.

    Submitting the same report id again with the same lines changes nothing and answers the
    stored result; with other lines it is refused. A correction is a new report naming the one
    it replaces, which must be the latest report still counted (later lines' tiers depend on
    it); the replaced report stops counting for tiers, the cap and recoupment.
    """
    if not REPORT_ID_PATTERN.fullmatch(report_id):
        raise InvalidSaleEventError(
            N_(
                "report id %(report)s must be 1-128 letters, digits or _ . : - "
                "and start with a letter or digit"
            ),
            report=repr(report_id[:140]),
        )
    if not lines:
        raise InvalidSaleEventError(N_("report %(report)s has no lines"), report=report_id)
    if len(lines) > MAX_REPORT_LINES:
        raise InvalidSaleEventError(
            N_("report %(report)s has %(count)s lines; at most %(most)s per report"),
            report=report_id,
            count=len(lines),
            most=MAX_REPORT_LINES,
        )
    grant = repository.lock_licensee_grant(session, licensee, grant_id)
    if grant.sale_type != "retail":
        raise Conflict(
            N_("grant %(grant)s is a %(sale_type)s license, not retail"),
            grant=grant_id,
            sale_type=in_words(grant.sale_type),
        )
    version = repository.version_of_grant(session, grant)
    contract = parse_contract_data(version.document)
    for number, line in enumerate(lines, start=1):
        if line.net_revenue.currency != contract.currency:
            raise CurrencyMismatchError(
                N_(
                    "currency mismatch: line %(line)s of report %(report)s is in %(currency)s, "
                    "the contract's currency is %(contract_currency)s"
                ),
                line=number,
                report=report_id,
                currency=line.net_revenue.currency,
                contract_currency=contract.currency,
            )
    existing = repository.report_rows(session, grant_id, report_id)
    if existing:
        same_correction = existing[0].corrects_report_key == corrects
        if same_correction and _same_lines(existing, lines, contract.currency):
            earlier = repository.report_rows(session, grant_id, corrects) if corrects else []
            stored = [ReportedLine.of(row) for row in existing]
            return _outcome(grant, report_id, corrects, stored, earlier, replayed=True)
        raise Conflict(
            N_(
                "report %(report)s was already recorded with other lines; "
                "send a correction under a new report id that names it"
            ),
            report=report_id,
        )
    replaced: list[SalesReport] = []
    if corrects is not None:
        replaced = _replaceable_report(session, grant_id, corrects)
    counted = repository.counted_totals(session, grant_id, excluding_report=corrects)
    rows = _record_lines(
        session,
        grant=grant,
        version=version,
        contract=contract,
        report_id=report_id,
        corrects=corrects,
        lines=lines,
        counted=counted,
        log=log,
    )
    return _outcome(grant, report_id, corrects, rows, replaced, replayed=False)


def _replaceable_report(session: Session, grant_id: int, corrects: str) -> list[SalesReport]:
    replaced = repository.report_rows(session, grant_id, corrects)
    if not replaced:
        raise NotFound(
            N_("report %(report)s not found under grant %(grant)s"),
            report=corrects,
            grant=grant_id,
        )
    if repository.report_is_replaced(session, grant_id, corrects):
        raise Conflict(
            N_("report %(report)s was already corrected; correct the correction"),
            report=corrects,
        )
    latest = repository.latest_counted_report(session, grant_id)
    if latest != corrects:
        raise Conflict(
            N_(
                "only the latest report still counted (%(latest)s) can be corrected, not "
                "%(report)s: the tiers of later reports depend on it"
            ),
            latest=str(latest),
            report=corrects,
        )
    return replaced


def _running_total(amount_minor: int, currency: str) -> Money:
    """What the lines before a line add up to, as the Money its sale counts from."""
    # A sum of whole, non-negative minor units in the report's checked currency: only its size
    # is left to check, and past the largest amount Money refuses it as it always did.
    if amount_minor <= MAX_AMOUNT_MINOR:
        return Money.unchecked(amount_minor, currency)
    return Money(amount_minor, currency)


def _record_lines(
    session: Session,
    *,
    grant: LicenseGrant,
    version: ContractVersion,
    contract: Contract,
    report_id: str,
    corrects: str | None,
    lines: Sequence[SalesLine],
    counted: repository.CountedTotals,
    log: AttestationLog,
) -> list[ReportedLine]:
    """Split every line in memory, log the report, then write its lines in one statement.

    One `ReportSplitEvent` leaf covers up to `REPORT_LEAF_LINES` lines; each line keeps the
    index of the leaf that covers it, and the first line of each leaf keeps its openings.
    """
    currency = contract.currency
    grant_id = persisted_id(grant)
    compiled_contract = compiled(session, contract)
    units_before = counted.units
    revenue_before = counted.net_revenue_minor
    royalties_before = counted.gross_minor
    recouped_before = counted.recouped_minor
    version_id = persisted_id(version)
    moment = utcnow()
    rows: list[dict[str, Any]] = []
    logged: list[tuple[int, int, int, int, list[dict[str, Any]]]] = []
    for number, line in enumerate(lines, start=1):
        execution = execute(
            compiled_contract,
            RetailSale(
                units=line.units,
                net_revenue=line.net_revenue,
                channel=line.channel,
                territory=line.territory,
                units_before=units_before,
                revenue_before=_running_total(revenue_before, currency),
                royalties_before=_running_total(royalties_before, currency),
                recouped_before=_running_total(recouped_before, currency),
            ),
        )
        gross = execution.gross.amount_minor
        recouped = sum(
            entry.amount.amount_minor
            for entry in execution.allocations
            if entry.rule.startswith("recoup:")
        )
        revenue = line.net_revenue.amount_minor
        split = execution.to_json()
        rows.append(
            {
                "grant_id": grant_id,
                "report_key": report_id,
                "line_number": number,
                "corrects_report_key": corrects,
                "contract_version_id": version_id,
                "units": line.units,
                "net_revenue_minor": revenue,
                "channel": line.channel,
                "territory": line.territory,
                "gross_minor": gross,
                "recouped_minor": recouped,
                "currency": currency,
                "execution": split,
                "log_openings": None,
                "reported_at": moment,
            }
        )
        logged.append((number, line.units, revenue, gross, split["allocations"]))
        units_before += line.units
        revenue_before += revenue
        royalties_before += gross
        recouped_before += recouped
    events = []
    for start in range(0, len(rows), REPORT_LEAF_LINES):
        chunk = logged[start : start + REPORT_LEAF_LINES]
        openings = report_openings(report_id=report_id, corrects_report_id=corrects, lines=chunk)
        rows[start]["log_openings"] = openings_to_json(openings)
        events.append(
            ReportSplitEvent(
                grant_id=grant_id,
                work_id=grant.work_id,
                first_line=chunk[0][0],
                last_line=chunk[-1][0],
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                currency=currency,
                commitments=commitments_of(openings),
                executed_at=moment,
            )
        )
    indexes = log.append_events(events)
    for position, row in enumerate(rows):
        row["log_index"] = indexes[position // REPORT_LEAF_LINES]
    ids = repository.insert_report_lines(session, rows)
    return [
        ReportedLine(
            id=line_id,
            grant_id=grant_id,
            line_number=row["line_number"],
            units=row["units"],
            net_revenue_minor=row["net_revenue_minor"],
            channel=row["channel"],
            territory=row["territory"],
            gross_minor=row["gross_minor"],
            recouped_minor=row["recouped_minor"],
            currency=currency,
            execution=row["execution"],
            log_index=row["log_index"],
        )
        for line_id, row in zip(ids, rows, strict=True)
    ]


def sales_line_openings(session: Session, line: SalesReport) -> dict[str, Any] | None:
    """The openings of the leaf that logged a sales line, for the grant's parties.

    A line logged on its own (a `license_split` leaf) keeps them itself; a line of a report leaf
    finds them on the first line that leaf covers.
    """
    if line.log_openings is not None or line.log_index is None:
        return line.log_openings
    first = repository.report_leaf_row(session, line.grant_id, line.log_index)
    return first.log_openings if first is not None else None
