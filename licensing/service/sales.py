"""Licensing use cases: none commits, and every consent, grant and split is logged with its row.

Each use case takes the session and the acting user; those that record a consent, a grant or
a royalty split also take the attestation log and append the leaf in the caller's transaction,
so a row never exists without its leaf. Contracts stored here are attached to registered works,
referenced in documents as `work-<id>`; a party's account is `acct:<email>` of a user, or
`platform:<name>` for the platform, whose consent an administrator gives. Work ownership and
what a user may see are checked here and only here: objects a user may not see answer
NotFoundError, exactly as unknown ones do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from licensing.contract import Contract, parse_contract_data
from licensing.engine import (
    Buyout,
    CompiledContract,
    Execution,
    RetailSale,
    SaleEvent,
    WholesalePurchase,
    compile_contract,
    execute,
)
from licensing.errors import (
    ConflictError,
    CurrencyMismatchError,
    ForbiddenError,
    InvalidContractError,
    InvalidSaleEventError,
    NotFoundError,
)
from licensing.events import ConsentEvent, GrantEvent, SplitEvent, allocation_lines
from licensing.models import (
    ContractConsent,
    ContractVersion,
    GrantStatus,
    LicenseContract,
    LicenseGrant,
    LicenseOffer,
    OfferStatus,
    SalesReport,
    VersionStatus,
)
from licensing.money import Money
from registry.log.store import AttestationLog
from registry.models import (
    Membership,
    Organisation,
    Role,
    User,
    Visibility,
    Work,
    persisted_id,
    utcnow,
)
from registry.service import transfer_ownership

WORK_REFERENCE_PREFIX = "work-"
PLATFORM_ACCOUNT_PREFIX = "platform:"


def work_reference(work_id: int) -> str:
    """Return how contract documents name a registered work."""
    return f"{WORK_REFERENCE_PREFIX}{work_id}"


def account_reference(user: User) -> str:
    """Return how contract documents name a user's account."""
    return f"acct:{user.email}"


def _work_id(reference: str) -> int | None:
    digits = reference.removeprefix(WORK_REFERENCE_PREFIX)
    if reference.startswith(WORK_REFERENCE_PREFIX) and digits.isdigit():
        return int(digits)
    return None


def _id(
    row: LicenseContract | ContractVersion | LicenseOffer | LicenseGrant | SalesReport | User,
) -> int:
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id before flush")
    return row.id


def active_version(session: Session, work_id: int) -> ContractVersion | None:
    """Return the active contract version of a work, if every party consented to one."""
    return session.exec(
        select(ContractVersion)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id, ContractVersion.status == VersionStatus.ACTIVE)
    ).first()


def database_resolver(session: Session) -> Callable[[str], Contract | None]:
    """Return a contract resolver reading works' active contracts from the database."""

    def resolve(reference: str) -> Contract | None:
        work_id = _work_id(reference)
        version = active_version(session, work_id) if work_id is not None else None
        return parse_contract_data(version.document) if version is not None else None

    return resolve


def _owned_work(session: Session, actor: User, work_id: int) -> Work:
    work = session.get(Work, work_id)
    if work is None or work.owner_id != actor.id:
        raise NotFoundError(f"work {work_id} not found among your works")
    return work


def _visible_work(session: Session, viewer: User | None, work_id: int) -> Work:
    work = session.get(Work, work_id)
    if work is None or not (
        work.visibility == Visibility.PUBLIC or (viewer is not None and work.owner_id == viewer.id)
    ):
        raise NotFoundError(f"work {work_id} not found")
    return work


def _canonical_sha256(document: dict[str, object]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def propose_contract_version(
    session: Session, actor: User, contract: Contract, *, for_work: int | None = None
) -> ContractVersion:
    """Store a new draft version of the contract of a work the actor owns.

    The version number must follow the contract's latest; parent works must resolve to
    active contracts without cycles. The draft becomes active once every party consents.
    `for_work`, when given, is the work the request is about: the document must name it.
    """
    reference = contract.subject.work
    work_id = _work_id(reference) if reference is not None else None
    if work_id is None:
        raise InvalidContractError(
            f"subject.work must name a registered work as {WORK_REFERENCE_PREFIX}<id>, "
            f"got {reference or contract.subject.collection!r}"
        )
    if for_work is not None and work_id != for_work:
        raise InvalidContractError(
            f"subject.work is {reference}, but the contract is proposed for "
            f"{work_reference(for_work)}"
        )
    _owned_work(session, actor, work_id)
    compile_contract(contract, database_resolver(session))
    record = session.exec(select(LicenseContract).where(LicenseContract.work_id == work_id)).first()
    if record is None:
        taken = session.exec(
            select(LicenseContract).where(LicenseContract.contract_key == contract.contract_id)
        ).first()
        if taken is not None:
            raise ConflictError(
                f"contract id {contract.contract_id} already belongs to work {taken.work_id}"
            )
        record = LicenseContract(
            contract_key=contract.contract_id, work_id=work_id, owner_id=_id(actor)
        )
        session.add(record)
        session.flush()
    elif record.contract_key != contract.contract_id:
        raise ConflictError(
            f"work {work_id} already has contract {record.contract_key}; "
            f"propose a new version of it instead of {contract.contract_id}"
        )
    latest = session.exec(
        select(func.max(ContractVersion.version)).where(ContractVersion.contract_id == _id(record))
    ).one()
    expected = (latest or 0) + 1
    if contract.version != expected:
        raise ConflictError(
            f"contract {contract.contract_id} is at version {latest or 0}: "
            f"propose version {expected}, not {contract.version}"
        )
    document = contract.model_dump(mode="json", exclude_none=True)
    version = ContractVersion(
        contract_id=_id(record),
        version=contract.version,
        document=document,
        document_sha256=_canonical_sha256(document),
        proposed_by=_id(actor),
    )
    session.add(version)
    session.flush()
    return version


def _may_act_for(actor: User, account: str) -> bool:
    if account.startswith(PLATFORM_ACCOUNT_PREFIX):
        return actor.has_role(Role.ADMIN)
    return account == account_reference(actor)


def work_of_version(session: Session, version: ContractVersion) -> Work:
    record = session.get(LicenseContract, version.contract_id)
    work = session.get(Work, record.work_id) if record is not None else None
    if work is None:
        raise NotFoundError(f"contract version {version.id} has no work")
    return work


def get_version(session: Session, viewer: User, version_id: int) -> ContractVersion:
    """Return a contract version the viewer owns the work of, or may consent to for a party."""
    version = session.get(ContractVersion, version_id)
    if version is not None:
        work = work_of_version(session, version)
        parties = parse_contract_data(version.document).parties
        if work.owner_id == viewer.id or any(_may_act_for(viewer, p.account) for p in parties):
            return version
    raise NotFoundError(f"contract version {version_id} not found")


def consented_parties(session: Session, version_id: int) -> list[str]:
    """Return the ids of the parties that consented to a version, in consent order."""
    return list(
        session.exec(
            select(ContractConsent.party_id)
            .where(ContractConsent.version_id == version_id)
            .order_by(col(ContractConsent.id))
        ).all()
    )


def list_versions(session: Session, viewer: User, work_id: int) -> Sequence[ContractVersion]:
    """Return every version of the contract of a work the viewer owns, oldest first."""
    _owned_work(session, viewer, work_id)
    return session.exec(
        select(ContractVersion)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id)
        .order_by(col(ContractVersion.version))
    ).all()


def consent_to_version(
    session: Session, actor: User, version_id: int, party_id: str, log: AttestationLog
) -> ContractVersion:
    """Record the actor's consent for a party; activate the version once all parties consented."""
    version = get_version(session, actor, version_id)
    if version.status != VersionStatus.DRAFT:
        raise ConflictError(
            f"contract version {version_id} is {version.status}; only drafts take consent"
        )
    contract = parse_contract_data(version.document)
    party = next((entry for entry in contract.parties if entry.id == party_id), None)
    if party is None:
        known = ", ".join(entry.id for entry in contract.parties)
        raise InvalidContractError(
            f"contract version {version_id} has no party {party_id!r} (its parties: {known})"
        )
    if not _may_act_for(actor, party.account):
        raise ForbiddenError(f"{actor.email} may not consent for party {party_id!r}")
    given = set(
        session.exec(
            select(ContractConsent.party_id).where(ContractConsent.version_id == version_id)
        ).all()
    )
    if party_id in given:
        raise ConflictError(f"party {party_id!r} already consented to version {version_id}")
    consent = ContractConsent(version_id=version_id, party_id=party_id, user_id=_id(actor))
    activates = given | {party_id} >= {entry.id for entry in contract.parties}
    if activates:
        _activate(session, version)
    (consent.log_index,) = log.append_events(
        [
            ConsentEvent(
                version_id=version_id,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                work_id=persisted_id(work_of_version(session, version)),
                document_sha256=version.document_sha256,
                party_id=party_id,
                user_id=_id(actor),
                activates=activates,
                consented_at=consent.consented_at,
            )
        ]
    )
    session.add(consent)
    session.flush()
    return version


def _activate(session: Session, version: ContractVersion) -> None:
    previous = session.exec(
        select(ContractVersion).where(
            ContractVersion.contract_id == version.contract_id,
            ContractVersion.status == VersionStatus.ACTIVE,
        )
    ).all()
    for superseded in previous:
        superseded.status = VersionStatus.SUPERSEDED
        session.add(superseded)
    version.status = VersionStatus.ACTIVE
    version.activated_at = utcnow()
    session.add(version)


def _active_contract(session: Session, work_id: int) -> tuple[ContractVersion, Contract]:
    version = active_version(session, work_id)
    if version is None:
        raise ConflictError(
            f"work {work_id} has no active contract: every party must consent to a version first"
        )
    return version, parse_contract_data(version.document)


def publish_offer(
    session: Session, actor: User, work_id: int, sale_type: str, package: str | None = None
) -> LicenseOffer:
    """Offer a sale type (and, for wholesale, optionally one package) on an owned work."""
    _owned_work(session, actor, work_id)
    version, contract = _active_contract(session, work_id)
    if sale_type not in contract.sale_types():
        raise InvalidSaleEventError(
            f"the active contract of work {work_id} offers no {sale_type} sales "
            f"(it offers {', '.join(contract.sale_types())})"
        )
    if package is not None:
        packages = [entry.id for entry in contract.wholesale.packages] if contract.wholesale else []
        if sale_type != "wholesale" or package not in packages:
            raise InvalidSaleEventError(f"no wholesale package {package!r} in the active contract")
    offer = LicenseOffer(
        work_id=work_id,
        contract_id=version.contract_id,
        sale_type=sale_type,
        package=package,
        created_by=_id(actor),
    )
    session.add(offer)
    session.flush()
    return offer


def withdraw_offer(session: Session, actor: User, offer_id: int) -> LicenseOffer:
    """Withdraw an open offer on a work the actor owns; grants already taken stay valid."""
    offer = session.get(LicenseOffer, offer_id)
    work = session.get(Work, offer.work_id) if offer is not None else None
    if offer is None or work is None or work.owner_id != actor.id:
        raise NotFoundError(f"offer {offer_id} not found among your offers")
    if offer.status != OfferStatus.OPEN:
        raise ConflictError(f"offer {offer_id} is already {offer.status}")
    offer.status = OfferStatus.WITHDRAWN
    session.add(offer)
    session.flush()
    return offer


def list_open_offers(session: Session, viewer: User | None, work_id: int) -> Sequence[LicenseOffer]:
    """Return the open offers on a work anyone may see (a public one, or the viewer's own)."""
    _visible_work(session, viewer, work_id)
    return session.exec(
        select(LicenseOffer)
        .where(LicenseOffer.work_id == work_id, LicenseOffer.status == OfferStatus.OPEN)
        .order_by(col(LicenseOffer.id))
    ).all()


def _compiled(session: Session, contract: Contract) -> CompiledContract:
    return compile_contract(contract, database_resolver(session))


def licensee_domain(session: Session, user: User) -> str | None:
    """Return the domain of the first organisation the user belongs to that has one."""
    return session.exec(
        select(Organisation.domain)
        .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(Membership.user_id == user.id, col(Organisation.domain).is_not(None))
        .order_by(col(Organisation.id))
    ).first()


def _lock_work(session: Session, work_id: int) -> Work:
    # Grants of one work queue on its row (FOR UPDATE on PostgreSQL; SQLite takes the database
    # write lock at BEGIN), so each sees the buyouts and offer changes committed before it.
    work = session.exec(
        select(Work)
        .where(Work.id == work_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if work is None:
        raise NotFoundError(f"work {work_id} not found")
    return work


def take_license(
    session: Session, licensee: User, offer_id: int, log: AttestationLog, units: int = 0
) -> tuple[LicenseGrant, Execution]:
    """Grant a brand a license under an open offer and split what it pays up front.

    Retail grants pay nothing up front (royalties follow sales reports) and are active at
    once; wholesale and buyout grants wait for payment. A buyout is exclusive: the work takes
    no further grants, its open offers close and the buyer becomes its registered owner.
    """
    if not licensee.has_role(Role.BRAND):
        raise ForbiddenError(f"{licensee.email} is not a brand account: only brands take licenses")
    found = session.get(LicenseOffer, offer_id)
    if found is None:
        raise NotFoundError(f"offer {offer_id} not found")
    _visible_work(session, licensee, found.work_id)
    work = _lock_work(session, found.work_id)
    offer = session.exec(
        select(LicenseOffer)
        .where(LicenseOffer.id == offer_id)
        .execution_options(populate_existing=True)
    ).one()
    bought_out = session.exec(
        select(LicenseGrant).where(
            LicenseGrant.work_id == offer.work_id, LicenseGrant.sale_type == "buyout"
        )
    ).first()
    if bought_out is not None:
        raise ConflictError(
            f"work {offer.work_id} was bought out exclusively (grant {bought_out.id})"
        )
    if offer.status != OfferStatus.OPEN:
        raise ConflictError(f"offer {offer_id} is {offer.status}: it takes no new licenses")
    if work.owner_id == licensee.id:
        raise ConflictError(f"you own work {work.id}: there is nothing to license")
    version, contract = _active_contract(session, offer.work_id)
    event: SaleEvent
    if offer.sale_type == "retail":
        event = RetailSale(units=0, net_revenue=Money.zero(contract.currency))
    elif offer.sale_type == "wholesale":
        event = WholesalePurchase(units=units, package=offer.package)
    else:
        event = Buyout()
    execution = execute(_compiled(session, contract), event)
    grant = LicenseGrant(
        offer_id=offer_id,
        work_id=offer.work_id,
        licensee_id=_id(licensee),
        contract_version_id=_id(version),
        sale_type=offer.sale_type,
        gross_minor=execution.gross.amount_minor,
        currency=execution.gross.currency,
        execution=execution.to_json(),
        status=GrantStatus.ACTIVE if offer.sale_type == "retail" else GrantStatus.PENDING_PAYMENT,
    )
    session.add(grant)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(f"work {offer.work_id} was bought out exclusively") from None
    (grant.log_index,) = log.append_events(
        [
            GrantEvent(
                grant_id=_id(grant),
                offer_id=offer_id,
                work_id=offer.work_id,
                licensee_id=_id(licensee),
                licensee_domain=licensee_domain(session, licensee),
                sale_type=offer.sale_type,
                status=grant.status.value,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                gross_minor=execution.gross.amount_minor,
                currency=execution.gross.currency,
                allocations=allocation_lines(execution),
                granted_at=grant.granted_at,
            )
        ]
    )
    session.add(grant)
    if offer.sale_type == "buyout":
        _close_open_offers(session, offer.work_id)
        transfer_ownership(session, offer.work_id, _id(licensee))
    session.flush()
    return grant, execution


def _close_open_offers(session: Session, work_id: int) -> None:
    for open_offer in session.exec(
        select(LicenseOffer).where(
            LicenseOffer.work_id == work_id, LicenseOffer.status == OfferStatus.OPEN
        )
    ):
        open_offer.status = OfferStatus.CLOSED
        session.add(open_offer)


def get_grant(session: Session, viewer: User, grant_id: int) -> LicenseGrant:
    """Return a grant the viewer took, or granted by publishing its offer."""
    grant = session.get(LicenseGrant, grant_id)
    offer = session.get(LicenseOffer, grant.offer_id) if grant is not None else None
    if grant is None or offer is None or viewer.id not in (grant.licensee_id, offer.created_by):
        raise NotFoundError(f"license grant {grant_id} not found")
    return grant


def logged_grant(session: Session, grant_id: int) -> LicenseGrant:
    """Return a grant whose leaf is on the public log (its certificate is public like the log)."""
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or grant.log_index is None:
        raise NotFoundError(f"license grant {grant_id} not found")
    return grant


REPORT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
MAX_REPORT_LINES = 10_000


@dataclass(frozen=True, slots=True)
class SalesLine:
    """One line a licensee reports: units sold and their net revenue, by channel and territory."""

    units: int
    net_revenue: Money
    channel: str | None = None
    territory: str | None = None


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """A stored sales report: its lines, their splits and what it changes in royalties owed.

    `owed` sums the report's allocations by party; for a correction it is the change against
    the report it replaces, so it may be negative. `replayed` is true when the same report was
    already recorded and nothing new was written.
    """

    grant_id: int
    report_id: str
    corrects_report_id: str | None
    rows: tuple[SalesReport, ...]
    royalties: Money
    owed: tuple[tuple[str, int], ...]
    replayed: bool


def _report_rows(session: Session, grant_id: int, report_id: str) -> list[SalesReport]:
    return list(
        session.exec(
            select(SalesReport)
            .where(SalesReport.grant_id == grant_id, SalesReport.report_key == report_id)
            .order_by(col(SalesReport.line_number))
        ).all()
    )


def _same_lines(rows: Sequence[SalesReport], lines: Sequence[SalesLine], currency: str) -> bool:
    stored = [(r.units, r.net_revenue_minor, r.currency, r.channel, r.territory) for r in rows]
    sent = [
        (line.units, line.net_revenue.amount_minor, currency, line.channel, line.territory)
        for line in lines
    ]
    return stored == sent


def _owed_by_party(rows: Sequence[SalesReport]) -> dict[str, int]:
    owed: dict[str, int] = {}
    for row in rows:
        for line in row.execution["allocations"]:
            owed[line["party"]] = owed.get(line["party"], 0) + int(line["amount_minor"])
    return owed


def _outcome(
    grant: LicenseGrant,
    report_id: str,
    corrects: str | None,
    rows: Sequence[SalesReport],
    replaced: Sequence[SalesReport],
    *,
    replayed: bool,
) -> ReportOutcome:
    owed = _owed_by_party(rows)
    for party, amount in _owed_by_party(replaced).items():
        owed[party] = owed.get(party, 0) - amount
    return ReportOutcome(
        grant_id=_id(grant),
        report_id=report_id,
        corrects_report_id=corrects,
        rows=tuple(rows),
        royalties=Money(sum(row.gross_minor for row in rows), grant.currency),
        owed=tuple(sorted(owed.items())),
        replayed=replayed,
    )


def _lock_grant(session: Session, licensee: User, grant_id: int) -> LicenseGrant:
    # Reports under one grant queue on its row: tiers and recoupment count every earlier line.
    grant = session.exec(
        select(LicenseGrant)
        .where(LicenseGrant.id == grant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if grant is None or grant.licensee_id != licensee.id:
        raise NotFoundError(f"license grant {grant_id} not found")
    return grant


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
            f"report id {report_id[:140]!r} must be 1-128 letters, digits or _ . : - "
            "and start with a letter or digit"
        )
    if not lines:
        raise InvalidSaleEventError(f"report {report_id} has no lines")
    if len(lines) > MAX_REPORT_LINES:
        raise InvalidSaleEventError(
            f"report {report_id} has {len(lines)} lines; at most {MAX_REPORT_LINES} per report"
        )
    grant = _lock_grant(session, licensee, grant_id)
    if grant.sale_type != "retail":
        raise ConflictError(f"grant {grant_id} is a {grant.sale_type} license, not retail")
    version = session.get(ContractVersion, grant.contract_version_id)
    if version is None:
        raise NotFoundError(f"contract version {grant.contract_version_id} not found")
    contract = parse_contract_data(version.document)
    for number, line in enumerate(lines, start=1):
        if line.net_revenue.currency != contract.currency:
            raise CurrencyMismatchError(
                f"currency mismatch: line {number} of report {report_id} is in "
                f"{line.net_revenue.currency}, the contract's currency is {contract.currency}"
            )
    existing = _report_rows(session, grant_id, report_id)
    if existing:
        same_correction = existing[0].corrects_report_key == corrects
        if same_correction and _same_lines(existing, lines, contract.currency):
            replaced = _report_rows(session, grant_id, corrects) if corrects else []
            return _outcome(grant, report_id, corrects, existing, replaced, replayed=True)
        raise ConflictError(
            f"report {report_id} was already recorded with other lines; "
            "send a correction under a new report id that names it"
        )
    counted = _counted_rows(session, grant_id)
    replaced = []
    if corrects is not None:
        replaced = _replaceable_report(session, grant_id, corrects, counted)
        counted = [row for row in counted if row.report_key != corrects]
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


def _counted_rows(session: Session, grant_id: int) -> list[SalesReport]:
    """Return the lines still counted under a grant: those of reports no correction replaced."""
    replaced_keys = select(SalesReport.corrects_report_key).where(
        SalesReport.grant_id == grant_id, col(SalesReport.corrects_report_key).is_not(None)
    )
    return list(
        session.exec(
            select(SalesReport)
            .where(
                SalesReport.grant_id == grant_id,
                col(SalesReport.report_key).not_in(replaced_keys),
            )
            .order_by(col(SalesReport.id))
        ).all()
    )


def _replaceable_report(
    session: Session, grant_id: int, corrects: str, counted: Sequence[SalesReport]
) -> list[SalesReport]:
    replaced = _report_rows(session, grant_id, corrects)
    if not replaced:
        raise NotFoundError(f"report {corrects} not found under grant {grant_id}")
    if not any(row.report_key == corrects for row in counted):
        raise ConflictError(f"report {corrects} was already corrected; correct the correction")
    latest = counted[-1].report_key
    if latest != corrects:
        raise ConflictError(
            f"only the latest report still counted ({latest}) can be corrected, not {corrects}: "
            "the tiers of later reports depend on it"
        )
    return replaced


def _record_lines(
    session: Session,
    *,
    grant: LicenseGrant,
    version: ContractVersion,
    contract: Contract,
    report_id: str,
    corrects: str | None,
    lines: Sequence[SalesLine],
    counted: Sequence[SalesReport],
    log: AttestationLog,
) -> list[SalesReport]:
    currency = contract.currency
    compiled = _compiled(session, contract)
    units_before = sum(row.units for row in counted)
    revenue_before = sum(row.net_revenue_minor for row in counted)
    royalties_before = sum(row.gross_minor for row in counted)
    recouped_before = sum(row.recouped_minor for row in counted)
    rows: list[SalesReport] = []
    executions: list[Execution] = []
    for number, line in enumerate(lines, start=1):
        execution = execute(
            compiled,
            RetailSale(
                units=line.units,
                net_revenue=line.net_revenue,
                channel=line.channel,
                territory=line.territory,
                units_before=units_before,
                revenue_before=Money(revenue_before, currency),
                royalties_before=Money(royalties_before, currency),
                recouped_before=Money(recouped_before, currency),
            ),
        )
        recouped = sum(
            entry.amount.amount_minor
            for entry in execution.allocations
            if entry.rule.startswith("recoup:")
        )
        rows.append(
            SalesReport(
                grant_id=_id(grant),
                report_key=report_id,
                line_number=number,
                corrects_report_key=corrects,
                contract_version_id=_id(version),
                units=line.units,
                net_revenue_minor=line.net_revenue.amount_minor,
                channel=line.channel,
                territory=line.territory,
                gross_minor=execution.gross.amount_minor,
                recouped_minor=recouped,
                currency=currency,
                execution=execution.to_json(),
            )
        )
        executions.append(execution)
        units_before += line.units
        revenue_before += line.net_revenue.amount_minor
        royalties_before += execution.gross.amount_minor
        recouped_before += recouped
    session.add_all(rows)
    session.flush()
    indexes = log.append_events(
        [
            SplitEvent(
                grant_id=_id(grant),
                sales_report_id=_id(row),
                report_id=report_id,
                line_number=row.line_number,
                corrects_report_id=corrects,
                work_id=grant.work_id,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                units=row.units,
                net_revenue_minor=row.net_revenue_minor,
                gross_minor=row.gross_minor,
                currency=currency,
                allocations=allocation_lines(execution),
                executed_at=row.reported_at,
            )
            for row, execution in zip(rows, executions, strict=True)
        ]
    )
    for row, index in zip(rows, indexes, strict=True):
        row.log_index = index
    session.add_all(rows)
    session.flush()
    return rows


LICENSING_GRANT_STATUSES = (GrantStatus.ACTIVE, GrantStatus.PENDING_PAYMENT)
MAX_DOMAIN_INPUT = 2048


def host_of(domain_or_url: str) -> str:
    """Return the lower-case host a domain or URL names, without a trailing dot or port."""
    text = domain_or_url.strip()[:MAX_DOMAIN_INPUT]
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
    except ValueError:  # an unbalanced IPv6 bracket names no host
        return ""
    return host.rstrip(".").lower()


def _covers(domain: str, host: str) -> bool:
    domain = domain.rstrip(".").lower()
    return bool(domain) and (host == domain or host.endswith(f".{domain}"))


def licensed_grants(session: Session, work_id: int, domain_or_url: str) -> list[LicenseGrant]:
    """Return the grants of a work held by an organisation whose domain covers the host.

    A host is covered by its organisation's domain and every subdomain of it. Grants waiting
    for payment count: the license is granted, and the payment that settles it is tracked
    apart.
    """
    host = host_of(domain_or_url)
    if not host:
        return []
    candidates = session.exec(
        select(LicenseGrant, Organisation.domain)
        .join(Membership, col(Membership.user_id) == col(LicenseGrant.licensee_id))
        .join(Organisation, col(Organisation.id) == col(Membership.organisation_id))
        .where(
            LicenseGrant.work_id == work_id,
            col(LicenseGrant.status).in_(LICENSING_GRANT_STATUSES),
            col(Organisation.domain).is_not(None),
        )
        .order_by(col(LicenseGrant.id))
    ).all()
    grants: dict[int, LicenseGrant] = {}
    for grant, domain in candidates:
        if domain is not None and _covers(domain, host):
            grants[_id(grant)] = grant
    return list(grants.values())


def is_use_licensed(session: Session, work_id: int, domain_or_url: str) -> bool:
    """Return whether an organisation owning the domain (or URL's host) holds a license."""
    return bool(licensed_grants(session, work_id, domain_or_url))


@dataclass(frozen=True, slots=True)
class RoyaltyReport:
    """One counted sales report on a work: its gross royalty and what each party was allocated."""

    grant_id: int
    report_id: str
    reported_at: datetime
    gross: Money
    amounts: tuple[tuple[str, int], ...]


def _may_see_royalties(session: Session, viewer: User, work: Work, work_id: int) -> bool:
    if work.owner_id == viewer.id:
        return True
    account = account_reference(viewer)
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


def sales_history(session: Session, viewer: User, work_id: int) -> list[RoyaltyReport]:
    """Return the work's counted sales reports, oldest first, with each party's allocated sum.

    Only the work's owner and the accounts named as parties in one of its contract versions
    may see it; anyone else is answered as if the work did not exist. Corrected reports no
    longer count and are left out; their corrections appear in their place.
    """
    work = session.get(Work, work_id)
    if work is None or not _may_see_royalties(session, viewer, work, work_id):
        raise NotFoundError(f"work {work_id} not found")
    grant_ids = session.exec(
        select(LicenseGrant.id)
        .where(LicenseGrant.work_id == work_id)
        .order_by(col(LicenseGrant.id))
    ).all()
    reports: dict[tuple[int, str], list[SalesReport]] = {}
    for grant_id in grant_ids:
        if grant_id is None:
            continue
        for row in _counted_rows(session, grant_id):
            reports.setdefault((grant_id, row.report_key), []).append(row)
    ordered = sorted(reports.items(), key=lambda item: min(_id(row) for row in item[1]))
    return [
        RoyaltyReport(
            grant_id=grant_id,
            report_id=report_id,
            reported_at=min(row.reported_at for row in rows),
            gross=Money(sum(row.gross_minor for row in rows), rows[0].currency),
            amounts=tuple(sorted(_owed_by_party(rows).items())),
        )
        for (grant_id, report_id), rows in ordered
    ]
