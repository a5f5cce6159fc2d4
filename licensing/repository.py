"""Licensing queries; what a user may see or act on is decided here and nowhere else.

Works follow the registry's one rule (`registry.repository.work_scope`, through its
`get_owned_work` and `visible_work`). A contract version is seen by its work's owner and by
whoever may act for one of its parties; an offer is withdrawn by its work's owner and taken on
a work the licensee may see; a grant is seen by its licensee and by its offer's publisher, and
by anyone once it is on the public log; a work's royalties are seen by its owner and by the
accounts its contracts name.
Objects a user may not see answer NotFound, exactly as unknown ones do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table
from sqlmodel import Session, col, func, select

from licensing.contract import parse_contract_data
from licensing.models import (
    LIVE_GRANT_STATUSES,
    ContractConsent,
    ContractDecline,
    ContractVersion,
    GrantStatus,
    LicenseContract,
    LicenseGrant,
    LicenseOffer,
    OfferStatus,
    SalesReport,
    SalesReportTotals,
    VersionStatus,
)
from licensing.references import account_reference, may_act_for
from licensing.wording import in_words
from registry import repository as registry_repository
from registry.db import insert_rows
from registry.errors import NotFound
from registry.messages import N_
from registry.models import Membership, Organisation, User, Work, persisted_id

SALES_REPORTS = cast(Table, SalesReport.__table__)  # type: ignore[attr-defined]

# Scoping: which works, versions, offers and grants a user may see or act on.


def get_version(session: Session, viewer: User, version_id: int) -> ContractVersion:
    """Return a contract version the viewer owns the work of, or may consent to for a party."""
    version = session.get(ContractVersion, version_id)
    if version is not None:
        work = work_of_version(session, version)
        parties = parse_contract_data(version.document).parties
        if work.owner_id == viewer.id or any(may_act_for(viewer, p.account) for p in parties):
            return version
    raise NotFound(N_("contract version %(version)s not found"), version=version_id)


def owned_offer(session: Session, actor: User, offer_id: int) -> LicenseOffer:
    """Return an offer on a work the actor owns; any other offer answers NotFound."""
    offer = session.get(LicenseOffer, offer_id)
    if offer is not None:
        try:
            registry_repository.get_owned_work(session, actor, offer.work_id)
        except NotFound:
            pass
        else:
            return offer
    raise NotFound(N_("offer %(offer)s not found among your offers"), offer=offer_id)


def visible_offer(session: Session, viewer: User | None, offer_id: int) -> LicenseOffer:
    """Return an offer on a work the viewer may see (the registry's `visible_work`)."""
    offer = session.get(LicenseOffer, offer_id)
    if offer is None:
        raise NotFound(N_("offer %(offer)s not found"), offer=offer_id)
    registry_repository.visible_work(session, offer.work_id, viewer)
    return offer


def get_grant(session: Session, viewer: User, grant_id: int) -> LicenseGrant:
    """Return a grant the viewer took, or granted by publishing its offer."""
    grant = session.get(LicenseGrant, grant_id)
    offer = session.get(LicenseOffer, grant.offer_id) if grant is not None else None
    if grant is None or offer is None or viewer.id not in (grant.licensee_id, offer.created_by):
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    return grant


def party_grant_or_none(
    session: Session, viewer: User | None, grant_id: int
) -> LicenseGrant | None:
    """Return the grant if the viewer is one of its parties (taker or offerer), else None."""
    if viewer is None:
        return None
    try:
        return get_grant(session, viewer, grant_id)
    except NotFound:
        return None


def sales_line_of_grant(
    session: Session, viewer: User, grant_id: int, line_id: int
) -> tuple[SalesReport, int]:
    """Return a logged sales report line under a grant the viewer is a party to, and its leaf."""
    grant = get_grant(session, viewer, grant_id)
    line = session.get(SalesReport, line_id)
    if line is None or line.grant_id != grant.id or line.log_index is None:
        raise NotFound(
            N_("sales report line %(line)s of grant %(grant)s not found"),
            line=line_id,
            grant=grant_id,
        )
    return line, line.log_index


def certified_grant(session: Session, grant_id: int) -> tuple[LicenseGrant, int]:
    """Return an active grant and the index of its activation leaf on the public log (its
    certificate is public like the log); a grant awaiting payment or no longer active has none."""
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or grant.activation_log_index is None:
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    if grant.status != GrantStatus.ACTIVE:
        raise NotFound(
            N_("license grant %(grant)s is %(status)s: only an active grant is certified"),
            grant=grant_id,
            status=in_words(grant.status),
        )
    return grant, grant.activation_log_index


def lock_licensee_grant(session: Session, licensee: User, grant_id: int) -> LicenseGrant:
    """Return the licensee's own grant, locked: reports under one grant queue on its row.

    Tiers and recoupment count every earlier line, so a report must see all those before it.
    """
    grant = session.exec(
        select(LicenseGrant)
        .where(LicenseGrant.id == grant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if grant is None or grant.licensee_id != licensee.id:
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    return grant


def royalty_work(session: Session, viewer: User, work_id: int) -> Work:
    """Return the work if the viewer owns it or is named as a party in one of its contracts."""
    work = session.get(Work, work_id)
    if work is None or not (
        work.owner_id == viewer.id or _names_account(session, work_id, account_reference(viewer))
    ):
        raise NotFound(N_("work %(work)s not found"), work=work_id)
    return work


def _names_account(session: Session, work_id: int, account: str) -> bool:
    documents = session.exec(
        select(ContractVersion.document)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id)
    ).all()
    return any(
        party.account == account
        for document in documents
        for party in parse_contract_data(document).parties
    )


# Contracts and their versions.


def active_version(session: Session, work_id: int) -> ContractVersion | None:
    """Return the active contract version of a work, if every party consented to one."""
    return session.exec(
        select(ContractVersion)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id, ContractVersion.status == VersionStatus.ACTIVE)
    ).first()


def work_of_version(session: Session, version: ContractVersion) -> Work:
    """Return the work a contract version is attached to."""
    record = session.get(LicenseContract, version.contract_id)
    work = session.get(Work, record.work_id) if record is not None else None
    if work is None:
        raise NotFound(N_("contract version %(version)s has no work"), version=str(version.id))
    return work


def contract_of_work(session: Session, work_id: int) -> LicenseContract | None:
    """Return the contract attached to a work, if one was ever proposed."""
    return session.exec(select(LicenseContract).where(LicenseContract.work_id == work_id)).first()


def contract_with_key(session: Session, contract_key: str) -> LicenseContract | None:
    """Return the contract whose documents carry this contract id, on whichever work."""
    return session.exec(
        select(LicenseContract).where(LicenseContract.contract_key == contract_key)
    ).first()


def latest_version_number(session: Session, contract_id: int) -> int:
    """Return the highest version number of a contract, 0 before its first version."""
    latest = session.exec(
        select(func.max(ContractVersion.version)).where(ContractVersion.contract_id == contract_id)
    ).one()
    return latest or 0


def versions_of_work(session: Session, work_id: int) -> Sequence[ContractVersion]:
    """Return every version of a work's contract, oldest first."""
    return session.exec(
        select(ContractVersion)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id)
        .order_by(col(ContractVersion.version))
    ).all()


def active_versions_of_contract(session: Session, contract_id: int) -> Sequence[ContractVersion]:
    """Return the active versions of a contract (at most one while the invariant holds)."""
    return session.exec(
        select(ContractVersion).where(
            ContractVersion.contract_id == contract_id,
            ContractVersion.status == VersionStatus.ACTIVE,
        )
    ).all()


def consented_parties(session: Session, version_id: int) -> list[str]:
    """Return the ids of the parties that consented to a version, in consent order."""
    return list(
        session.exec(
            select(ContractConsent.party_id)
            .where(ContractConsent.version_id == version_id)
            .order_by(col(ContractConsent.id))
        ).all()
    )


def declined_parties(session: Session, version_id: int) -> list[str]:
    """Return the ids of the parties that declined a version, in the order they declined."""
    return list(
        session.exec(
            select(ContractDecline.party_id)
            .where(ContractDecline.version_id == version_id)
            .order_by(col(ContractDecline.id))
        ).all()
    )


def drafts_awaiting(session: Session, account: str) -> list[tuple[ContractVersion, str]]:
    """The draft versions naming this account as a party that has neither consented nor
    declined, newest first, each with that party's id."""
    drafts = session.exec(
        select(ContractVersion)
        .where(ContractVersion.status == VersionStatus.DRAFT)
        .order_by(col(ContractVersion.id).desc())
    ).all()
    draft_ids = [persisted_id(version) for version in drafts]
    consents = select(ContractConsent.version_id, ContractConsent.party_id).where(
        col(ContractConsent.version_id).in_(draft_ids)
    )
    declines = select(ContractDecline.version_id, ContractDecline.party_id).where(
        col(ContractDecline.version_id).in_(draft_ids)
    )
    answered = set(session.exec(consents).all()) | set(session.exec(declines).all())
    return [
        (version, party.id)
        for version in drafts
        for party in parse_contract_data(version.document).parties
        if party.account == account and (version.id, party.id) not in answered
    ]


# Offers and grants.


def open_offers(session: Session, work_id: int) -> Sequence[LicenseOffer]:
    """Return the open offers on a work, oldest first."""
    return session.exec(
        select(LicenseOffer)
        .where(LicenseOffer.work_id == work_id, LicenseOffer.status == OfferStatus.OPEN)
        .order_by(col(LicenseOffer.id))
    ).all()


def lock_work(session: Session, work_id: int) -> Work:
    """Return a work locked for its grants, re-read from the database.

    Grants of one work queue on its row (FOR UPDATE on PostgreSQL; SQLite takes the database
    write lock at BEGIN), so each sees the buyouts and offer changes committed before it.
    """
    work = session.exec(
        select(Work)
        .where(Work.id == work_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if work is None:
        raise NotFound(N_("work %(work)s not found"), work=work_id)
    return work


def reread_offer(session: Session, offer_id: int) -> LicenseOffer:
    """Return an offer re-read from the database, replacing what the session holds of it."""
    return session.exec(
        select(LicenseOffer)
        .where(LicenseOffer.id == offer_id)
        .execution_options(populate_existing=True)
    ).one()


def live_buyout_grant(session: Session, work_id: int) -> LicenseGrant | None:
    """Return the buyout that holds or reserves a work: active, or pending payment."""
    return session.exec(
        select(LicenseGrant).where(
            LicenseGrant.work_id == work_id,
            LicenseGrant.sale_type == "buyout",
            col(LicenseGrant.status).in_(LIVE_GRANT_STATUSES),
        )
    ).first()


def _verified_domain() -> ColumnElement[bool]:
    # An unverified domain is only a claim (registry.accounts.domains): it names no licensee.
    return col(Organisation.domain_verified_at).is_not(None)


def lock_grant(session: Session, grant_id: int) -> LicenseGrant:
    """Return a grant locked for a change of status, re-read from the database (no scoping:
    payment settlement acts for the platform, not for a user)."""
    grant = session.exec(
        select(LicenseGrant)
        .where(LicenseGrant.id == grant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if grant is None:
        raise NotFound(N_("license grant %(grant)s not found"), grant=grant_id)
    return grant


def offer_of_grant(session: Session, grant: LicenseGrant) -> LicenseOffer:
    """Return the offer a grant was taken under."""
    offer = session.get(LicenseOffer, grant.offer_id)
    if offer is None:
        raise NotFound(N_("offer %(offer)s not found"), offer=grant.offer_id)
    return offer


def overdue_grants(
    session: Session, now: datetime, work_id: int | None = None
) -> Sequence[LicenseGrant]:
    """Return the grants still pending payment past their deadline, of one work or all."""
    query = select(LicenseGrant).where(
        LicenseGrant.status == GrantStatus.PENDING_PAYMENT,
        col(LicenseGrant.expires_at).is_not(None),
        col(LicenseGrant.expires_at) <= now,
    )
    if work_id is not None:
        query = query.where(LicenseGrant.work_id == work_id)
    return session.exec(query.order_by(col(LicenseGrant.id))).all()


def licensee_domain(session: Session, user: User) -> str | None:
    """Return the verified domain of the first organisation the user belongs to that has one."""
    return session.exec(
        select(Organisation.domain)
        .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(
            Membership.user_id == user.id,
            col(Organisation.domain).is_not(None),
            _verified_domain(),
        )
        .order_by(col(Organisation.id))
    ).first()


def grants_with_licensee_domains(
    session: Session, work_id: int, statuses: Iterable[GrantStatus]
) -> Sequence[tuple[LicenseGrant, str | None]]:
    """Return a work's grants in these statuses, once per verified domain of the licensee's
    organisations."""
    return session.exec(
        select(LicenseGrant, Organisation.domain)
        .join(Membership, col(Membership.user_id) == col(LicenseGrant.licensee_id))
        .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
        .where(
            LicenseGrant.work_id == work_id,
            col(LicenseGrant.status).in_(statuses),
            col(Organisation.domain).is_not(None),
            _verified_domain(),
        )
        .order_by(col(LicenseGrant.id))
    ).all()


def grants_with_licensed_domains(
    session: Session, work_id: int, statuses: Iterable[GrantStatus]
) -> Sequence[tuple[LicenseGrant, str | None]]:
    """Return a work's grants in these statuses that name the site they license themselves."""
    rows = session.exec(
        select(LicenseGrant).where(
            LicenseGrant.work_id == work_id,
            col(LicenseGrant.status).in_(statuses),
            col(LicenseGrant.licensed_domain).is_not(None),
        )
    ).all()
    return [(grant, grant.licensed_domain) for grant in rows]


def grant_ids_of_work(session: Session, work_id: int) -> list[int]:
    """Return the ids of every grant on a work, oldest first."""
    ids = session.exec(
        select(LicenseGrant.id)
        .where(LicenseGrant.work_id == work_id)
        .order_by(col(LicenseGrant.id))
    ).all()
    return [grant_id for grant_id in ids if grant_id is not None]


# Sales reports.


def version_of_grant(session: Session, grant: LicenseGrant) -> ContractVersion:
    """Return the contract version a grant was taken under."""
    version = session.get(ContractVersion, grant.contract_version_id)
    if version is None:
        raise NotFound(
            N_("contract version %(version)s not found"), version=grant.contract_version_id
        )
    return version


def report_rows(session: Session, grant_id: int, report_key: str) -> list[SalesReport]:
    """Return the lines of one named report under a grant, in line order."""
    return list(
        session.exec(
            select(SalesReport)
            .where(SalesReport.grant_id == grant_id, SalesReport.report_key == report_key)
            .order_by(col(SalesReport.line_number))
        ).all()
    )


def report_lines_of_grant(session: Session, grant_id: int) -> Sequence[SalesReport]:
    """Every stored sales report line of a grant, corrected ones included, in the order stored."""
    return session.exec(
        select(SalesReport).where(SalesReport.grant_id == grant_id).order_by(col(SalesReport.id))
    ).all()


def counted_rows(session: Session, grant_id: int) -> list[SalesReport]:
    """Return the lines still counted under a grant: those of reports no correction replaced."""
    return list(
        session.exec(
            select(SalesReport)
            .where(SalesReport.grant_id == grant_id, _counted(grant_id))
            .order_by(col(SalesReport.id))
        ).all()
    )


@dataclass(frozen=True, slots=True)
class CountedTotals:
    """What the lines still counted under a grant add up to: what tiers, caps and recoupment
    of the next line count from."""

    units: int
    net_revenue_minor: int
    gross_minor: int
    recouped_minor: int


def _counted(grant_id: int, report_key: Any = SalesReport.report_key) -> ColumnElement[bool]:
    """Rows (lines, or reports' totals) of reports that no correction under the grant replaced."""
    replaced_keys = select(SalesReportTotals.corrects_report_key).where(
        SalesReportTotals.grant_id == grant_id,
        col(SalesReportTotals.corrects_report_key).is_not(None),
    )
    return col(report_key).not_in(replaced_keys)


def counted_totals(
    session: Session, grant_id: int, *, excluding_report: str | None = None
) -> CountedTotals:
    """Sum the reports still counted under a grant, leaving out one report if named."""
    query = select(
        func.coalesce(func.sum(SalesReportTotals.units), 0),
        func.coalesce(func.sum(SalesReportTotals.net_revenue_minor), 0),
        func.coalesce(func.sum(SalesReportTotals.gross_minor), 0),
        func.coalesce(func.sum(SalesReportTotals.recouped_minor), 0),
    ).where(
        SalesReportTotals.grant_id == grant_id,
        _counted(grant_id, SalesReportTotals.report_key),
    )
    if excluding_report is not None:
        query = query.where(SalesReportTotals.report_key != excluding_report)
    units, revenue, gross, recouped = session.exec(query).one()
    return CountedTotals(int(units), int(revenue), int(gross), int(recouped))


def latest_counted_report(session: Session, grant_id: int) -> str | None:
    """The key of the report whose lines were counted last under a grant, if any."""
    return session.exec(
        select(SalesReportTotals.report_key)
        .where(
            SalesReportTotals.grant_id == grant_id,
            _counted(grant_id, SalesReportTotals.report_key),
        )
        .order_by(col(SalesReportTotals.id).desc())
        .limit(1)
    ).first()


def report_is_replaced(session: Session, grant_id: int, report_key: str) -> bool:
    """Whether a correction under the grant names the report as the one it replaces."""
    return (
        session.exec(
            select(SalesReportTotals.id)
            .where(
                SalesReportTotals.grant_id == grant_id,
                SalesReportTotals.corrects_report_key == report_key,
            )
            .limit(1)
        ).first()
        is not None
    )


def insert_report_lines(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert a report's lines in one statement (the hot path of sales ingestion), and what they
    add up to; returns their ids in line order."""
    # The rows without RETURNING (a COPY on PostgreSQL), then the ids in one read: the lines of
    # one report are written only under the grant's lock, so the read finds exactly these.
    insert_rows(session, SALES_REPORTS, rows)
    first = rows[0]
    session.add(
        SalesReportTotals(
            grant_id=first["grant_id"],
            report_key=first["report_key"],
            corrects_report_key=first["corrects_report_key"],
            lines=len(rows),
            units=sum(row["units"] for row in rows),
            net_revenue_minor=sum(row["net_revenue_minor"] for row in rows),
            gross_minor=sum(row["gross_minor"] for row in rows),
            recouped_minor=sum(row["recouped_minor"] for row in rows),
        )
    )
    ids = session.exec(
        select(SalesReport.id)
        .where(
            SalesReport.grant_id == first["grant_id"],
            SalesReport.report_key == first["report_key"],
        )
        .order_by(col(SalesReport.line_number))
    ).all()
    return [line_id for line_id in ids if line_id is not None]


def report_leaf_row(session: Session, grant_id: int, log_index: int) -> SalesReport | None:
    """The line that keeps the openings of the report leaf at `log_index` (its first line)."""
    return session.exec(
        select(SalesReport)
        .where(SalesReport.grant_id == grant_id, SalesReport.log_index == log_index)
        .order_by(col(SalesReport.line_number))
        .limit(1)
    ).first()


def licensee_grants(session: Session, licensee: User) -> Sequence[LicenseGrant]:
    """Every grant the account took, newest first."""
    return session.exec(
        select(LicenseGrant)
        .where(LicenseGrant.licensee_id == licensee.id)
        .order_by(col(LicenseGrant.id).desc())
    ).all()
