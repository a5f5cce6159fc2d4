"""Retroactive licences: an infringement settled by a licence for the use already made.

From a case (registry.enforcement) the rights holder offers the site a licence for the copied
work at a price derived from the work's open offers, or set by hand. The offer is a grant
awaiting payment whose licensee is the case's site (no account): it is split under the work's
active contract like any sale, logged as a `license_grant` leaf and as a `licence_offered` case
step, and paid through settlement as a brand pays (`settlement.service.payments`), which then
activates it and resolves the case. A new offer replaces the one before it (cancelled).

Use cases take the session and the acting user and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from licensing import repository
from licensing.engine import RetroactiveLicence, WholesalePurchase, execute
from licensing.errors import InvalidSaleEventError, LicensingError
from licensing.events import GrantEvent, allocation_lines, grant_openings
from licensing.models import GrantStatus, LicenseGrant, LicenseOffer, OfferStatus
from licensing.money import Money
from licensing.service.contracts import active_contract, compiled
from licensing.service.grants import refuse_if_disputed
from registry.enforcement import repository as cases
from registry.enforcement.errors import InvalidCaseRequest
from registry.enforcement.models import Case
from registry.enforcement.service import LicenceTerms, check_licence_offerable
from registry.enforcement.service import record_licence_offer as record_on_case
from registry.errors import Conflict
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import User, Work, persisted_id, utcnow

RETROACTIVE = "retroactive"
# How long the site has to pay an offer before it lapses (the case's reply period is ten
# business days; a settlement often takes a few rounds of mail).
OFFER_VALIDITY = timedelta(days=30)


def standard_price(session: Session, work_id: int) -> Money | None:
    """What one licence of the work costs today: its cheapest open wholesale offer, if any.

    A package offer costs its fee; an offer by volume costs one unit at the first tier.
    """
    _, contract = active_contract(session, work_id)
    prices: list[int] = []
    for offer in repository.open_offers(session, work_id):
        if offer.sale_type != "wholesale":
            continue
        purchase = (
            WholesalePurchase(package=offer.package)
            if offer.package is not None
            else WholesalePurchase(units=1)
        )
        try:
            prices.append(execute(compiled(session, contract), purchase).gross.amount_minor)
        except LicensingError:
            continue
    priced = [price for price in prices if price > 0]
    return Money(min(priced), contract.currency) if priced else None


def case_work(session: Session, case: Case) -> Work:
    """The one work a case's copies show; a retroactive licence covers one work."""
    work_ids = sorted({alert.work_id for alert in cases.alerts_of(session, case)})
    if len(work_ids) != 1:
        raise InvalidCaseRequest(
            f"case {case.id} covers copies of {len(work_ids)} works, and a retroactive licence "
            "covers one: open one case per work to offer licences"
        )
    work = session.get(Work, work_ids[0])
    if work is None:
        raise InvalidCaseRequest(f"the work copied in case {case.id} no longer exists")
    return work


def case_licence(session: Session, case_id: int) -> LicenseGrant | None:
    """The case's current retroactive licence: the newest one not cancelled."""
    return session.exec(
        select(LicenseGrant)
        .where(
            LicenseGrant.case_id == case_id,
            LicenseGrant.status != GrantStatus.CANCELLED,
        )
        .order_by(col(LicenseGrant.id).desc())
    ).first()


@dataclass(frozen=True)
class Recovered:
    """What paid retroactive licences brought in, in one currency."""

    licences: int
    amount: Money


def money_recovered(session: Session, owner: User) -> list[Recovered]:
    """The owner's paid retroactive licences (active grants of their cases), per currency."""
    rows = session.exec(
        select(LicenseGrant.currency, func.count(), func.sum(LicenseGrant.gross_minor))
        .join(Case, col(Case.id) == LicenseGrant.case_id)
        .where(Case.owner_id == persisted_id(owner), LicenseGrant.status == GrantStatus.ACTIVE)
        .group_by(col(LicenseGrant.currency))
        .order_by(col(LicenseGrant.currency))
    ).all()
    return [Recovered(count, Money(int(total or 0), currency)) for currency, count, total in rows]


def licence_terms(session: Session, grant: LicenseGrant) -> LicenceTerms:
    work = session.get(Work, grant.work_id)
    return LicenceTerms(
        grant_id=persisted_id(grant),
        work_id=grant.work_id,
        work_title=work.title if work is not None else f"work {grant.work_id}",
        price=str(Money(grant.gross_minor, grant.currency)),
        valid_until=grant.expires_at or grant.granted_at,
    )


def offer_retroactive_licence(
    session: Session,
    owner: User,
    case_id: int,
    log: AttestationLog,
    *,
    price: Money | None = None,
    now: datetime | None = None,
) -> LicenseGrant:
    """Offer the case's site a licence for the copied work, at `price` or the standard price."""
    moment = now or utcnow()
    case = cases.owned_case(session, owner, case_id)
    check_licence_offerable(case)
    work = case_work(session, case)
    repository.lock_work(session, persisted_id(work))
    if work.owner_id != owner.id:
        raise Conflict(
            N_(
                "work %(work)s is no longer yours: only its owner licenses it, and its royalties "
                "go to the parties of its contract"
            ),
            work=str(work.id),
        )
    refuse_if_disputed(session, persisted_id(work))
    version, contract = active_contract(session, persisted_id(work))
    amount = price or standard_price(session, persisted_id(work))
    if amount is None:
        raise InvalidSaleEventError(
            N_(
                "work %(work)s has no open wholesale offer to derive a price from: set the "
                "licence's price by hand"
            ),
            work=str(work.id),
        )
    current = case_licence(session, case_id)
    if current is not None and current.status == GrantStatus.ACTIVE:
        raise Conflict(
            N_("case %(case)s is already settled by licence grant %(grant)s"),
            case=case_id,
            grant=str(current.id),
        )
    if current is not None:
        current.status = GrantStatus.CANCELLED
        session.add(current)
    execution = execute(compiled(session, contract), RetroactiveLicence(amount))
    offer = LicenseOffer(
        work_id=persisted_id(work),
        contract_id=version.contract_id,
        sale_type=RETROACTIVE,
        # Addressed to one site through its case: never open to anyone else.
        status=OfferStatus.CLOSED,
        created_by=persisted_id(owner),
        created_at=moment,
    )
    session.add(offer)
    session.flush()
    grant = LicenseGrant(
        offer_id=persisted_id(offer),
        work_id=persisted_id(work),
        licensee_id=None,
        case_id=case_id,
        licensed_domain=case.domain,
        contract_version_id=persisted_id(version),
        sale_type=RETROACTIVE,
        gross_minor=execution.gross.amount_minor,
        currency=execution.gross.currency,
        execution=execution.to_json(),
        status=GrantStatus.PENDING_PAYMENT,
        granted_at=moment,
        expires_at=moment + OFFER_VALIDITY,
    )
    session.add(grant)
    session.flush()
    openings = grant_openings(
        case.domain, execution.gross.amount_minor, allocation_lines(execution)
    )
    grant.log_openings = openings_to_json(openings)
    (grant.log_index,) = log.append_events(
        [
            GrantEvent(
                grant_id=persisted_id(grant),
                offer_id=persisted_id(offer),
                work_id=persisted_id(work),
                licensee_id=None,
                sale_type=RETROACTIVE,
                status=grant.status.value,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                currency=execution.gross.currency,
                commitments=commitments_of(openings),
                granted_at=moment,
            )
        ]
    )
    session.add(grant)
    session.flush()
    record_on_case(session, owner, case, licence_terms(session, grant), log)
    return grant
