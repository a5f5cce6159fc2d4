"""Licensing use cases: each takes the session and the acting user, and none commits.

Contracts stored here are attached to registered works, referenced in documents as
`work-<id>`; a party's account is `acct:<email>` of a user, or `platform:<name>` for the
platform, whose consent an administrator gives. Work ownership is checked here and only here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

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
    ForbiddenError,
    InvalidContractError,
    InvalidSaleEventError,
    NotFoundError,
)
from licensing.models import (
    ContractConsent,
    ContractVersion,
    LicenseContract,
    LicenseGrant,
    LicenseOffer,
    OfferStatus,
    SalesReport,
    VersionStatus,
)
from licensing.money import Money
from registry.models import Role, User, Work, utcnow

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


def _id(row: LicenseContract | ContractVersion | LicenseOffer | LicenseGrant | User) -> int:
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
    if work is None:
        raise NotFoundError(f"work {work_id} not found")
    if work.owner_id != actor.id:
        raise ForbiddenError(f"only the owner of work {work_id} may do this")
    return work


def _canonical_sha256(document: dict[str, object]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def propose_contract_version(session: Session, actor: User, contract: Contract) -> ContractVersion:
    """Store a new draft version of the contract of a work the actor owns.

    The version number must follow the contract's latest; parent works must resolve to
    active contracts without cycles. The draft becomes active once every party consents.
    """
    reference = contract.subject.work
    work_id = _work_id(reference) if reference is not None else None
    if work_id is None:
        raise InvalidContractError(
            f"subject.work must name a registered work as {WORK_REFERENCE_PREFIX}<id>, "
            f"got {reference or contract.subject.collection!r}"
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


def consent_to_version(
    session: Session, actor: User, version_id: int, party_id: str
) -> ContractVersion:
    """Record the actor's consent for a party; activate the version once all parties consented."""
    version = session.get(ContractVersion, version_id)
    if version is None:
        raise NotFoundError(f"contract version {version_id} not found")
    if version.status != VersionStatus.DRAFT:
        raise ConflictError(
            f"contract version {version_id} is {version.status}; only drafts take consent"
        )
    contract = parse_contract_data(version.document)
    party = next((entry for entry in contract.parties if entry.id == party_id), None)
    if party is None:
        raise NotFoundError(f"contract version {version_id} has no party {party_id!r}")
    if not _may_act_for(actor, party.account):
        raise ForbiddenError(f"{actor.email} may not consent for party {party_id!r}")
    given = set(
        session.exec(
            select(ContractConsent.party_id).where(ContractConsent.version_id == version_id)
        ).all()
    )
    if party_id in given:
        raise ConflictError(f"party {party_id!r} already consented to version {version_id}")
    session.add(ContractConsent(version_id=version_id, party_id=party_id, user_id=_id(actor)))
    if given | {party_id} >= {entry.id for entry in contract.parties}:
        _activate(session, version)
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


def _compiled(session: Session, contract: Contract) -> CompiledContract:
    return compile_contract(contract, database_resolver(session))


def take_license(
    session: Session, licensee: User, offer_id: int, units: int = 0
) -> tuple[LicenseGrant, Execution]:
    """Grant a license under an open offer and split what the licensee pays up front.

    Retail grants pay nothing up front (royalties follow sales reports); a buyout is exclusive,
    so a work that was bought out takes no further grants.
    """
    offer = session.get(LicenseOffer, offer_id)
    if offer is None or offer.status != OfferStatus.OPEN:
        raise NotFoundError(f"offer {offer_id} not found or no longer open")
    bought_out = session.exec(
        select(LicenseGrant).where(
            LicenseGrant.work_id == offer.work_id, LicenseGrant.sale_type == "buyout"
        )
    ).first()
    if bought_out is not None:
        raise ConflictError(f"work {offer.work_id} was bought out exclusively")
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
    )
    session.add(grant)
    session.flush()
    return grant, execution


def report_sales(
    session: Session,
    licensee: User,
    grant_id: int,
    *,
    units: int,
    net_revenue: Money,
    channel: str | None = None,
    territory: str | None = None,
) -> tuple[SalesReport, Execution]:
    """Record a retail sales report line under the licensee's grant and split its royalty.

    Tiers, the cap and advance recoupment count everything reported earlier under the grant.
    """
    grant = session.get(LicenseGrant, grant_id)
    if grant is None or grant.licensee_id != licensee.id:
        raise NotFoundError(f"license grant {grant_id} not found")
    if grant.sale_type != "retail":
        raise ConflictError(f"grant {grant_id} is a {grant.sale_type} license, not retail")
    version = session.get(ContractVersion, grant.contract_version_id)
    if version is None:
        raise NotFoundError(f"contract version {grant.contract_version_id} not found")
    contract = parse_contract_data(version.document)
    before = session.exec(
        select(
            func.coalesce(func.sum(SalesReport.units), 0),
            func.coalesce(func.sum(SalesReport.net_revenue_minor), 0),
            func.coalesce(func.sum(SalesReport.gross_minor), 0),
            func.coalesce(func.sum(SalesReport.recouped_minor), 0),
        ).where(SalesReport.grant_id == grant_id)
    ).one()
    units_before, revenue_before, royalties_before, recouped_before = (int(v) for v in before)
    currency = contract.currency
    sale = RetailSale(
        units=units,
        net_revenue=net_revenue,
        channel=channel,
        territory=territory,
        units_before=units_before,
        revenue_before=Money(revenue_before, currency),
        royalties_before=Money(royalties_before, currency),
        recouped_before=Money(recouped_before, currency),
    )
    execution = execute(_compiled(session, contract), sale)
    report = SalesReport(
        grant_id=grant_id,
        contract_version_id=_id(version),
        units=units,
        net_revenue_minor=net_revenue.amount_minor,
        channel=channel,
        territory=territory,
        gross_minor=execution.gross.amount_minor,
        recouped_minor=sum(
            line.amount.amount_minor
            for line in execution.allocations
            if line.rule.startswith("recoup:")
        ),
        currency=currency,
        execution=execution.to_json(),
    )
    session.add(report)
    session.flush()
    return report, execution


def list_versions(session: Session, work_id: int) -> Sequence[ContractVersion]:
    """Return every version of a work's contract, oldest first."""
    return session.exec(
        select(ContractVersion)
        .join(LicenseContract, col(LicenseContract.id) == col(ContractVersion.contract_id))
        .where(LicenseContract.work_id == work_id)
        .order_by(col(ContractVersion.version))
    ).all()
