"""License grants: a brand takes a license under an open offer; a buyout is exclusive.

The use case takes the session and the licensee and never commits; the grant is appended to
the attestation log with its agreed split in the caller's transaction, so its row never exists
without its leaf. Grant lookups (`get_grant`, `logged_grant`) are scoped in
`licensing.repository`.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from licensing import repository
from licensing.engine import Buyout, Execution, RetailSale, SaleEvent, WholesalePurchase, execute
from licensing.events import GrantEvent, allocation_lines, grant_openings
from licensing.models import GrantStatus, LicenseGrant, OfferStatus
from licensing.money import Money
from licensing.service.contracts import active_contract, compiled
from licensing.service.offers import close_open_offers
from registry.errors import Conflict, Forbidden
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.models import Role, User, persisted_id
from registry.service import transfer_ownership


def take_license(
    session: Session, licensee: User, offer_id: int, log: AttestationLog, units: int = 0
) -> tuple[LicenseGrant, Execution]:
    """Grant a brand a license under an open offer and split what it pays up front.

    Retail grants pay nothing up front (royalties follow sales reports) and are active at
    once; wholesale and buyout grants wait for payment. A buyout is exclusive: the work takes
    no further grants, its open offers close and the buyer becomes its registered owner.
    """
    if not licensee.has_role(Role.BRAND):
        raise Forbidden(f"{licensee.email} is not a brand account: only brands take licenses")
    found = repository.visible_offer(session, licensee, offer_id)
    work = repository.lock_work(session, found.work_id)
    offer = repository.reread_offer(session, offer_id)
    bought_out = repository.buyout_grant(session, offer.work_id)
    if bought_out is not None:
        raise Conflict(f"work {offer.work_id} was bought out exclusively (grant {bought_out.id})")
    if offer.status != OfferStatus.OPEN:
        raise Conflict(f"offer {offer_id} is {offer.status}: it takes no new licenses")
    if work.owner_id == licensee.id:
        raise Conflict(f"you own work {work.id}: there is nothing to license")
    version, contract = active_contract(session, offer.work_id)
    event: SaleEvent
    if offer.sale_type == "retail":
        event = RetailSale(units=0, net_revenue=Money.zero(contract.currency))
    elif offer.sale_type == "wholesale":
        event = WholesalePurchase(units=units, package=offer.package)
    else:
        event = Buyout()
    execution = execute(compiled(session, contract), event)
    grant = LicenseGrant(
        offer_id=offer_id,
        work_id=offer.work_id,
        licensee_id=persisted_id(licensee),
        contract_version_id=persisted_id(version),
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
        raise Conflict(f"work {offer.work_id} was bought out exclusively") from None
    openings = grant_openings(
        repository.licensee_domain(session, licensee),
        execution.gross.amount_minor,
        allocation_lines(execution),
    )
    grant.log_openings = openings_to_json(openings)
    (grant.log_index,) = log.append_events(
        [
            GrantEvent(
                grant_id=persisted_id(grant),
                offer_id=offer_id,
                work_id=offer.work_id,
                licensee_id=persisted_id(licensee),
                sale_type=offer.sale_type,
                status=grant.status.value,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                document_sha256=version.document_sha256,
                currency=execution.gross.currency,
                commitments=commitments_of(openings),
                granted_at=grant.granted_at,
            )
        ]
    )
    session.add(grant)
    if offer.sale_type == "buyout":
        close_open_offers(session, offer.work_id)
        transfer_ownership(session, offer.work_id, persisted_id(licensee))
    session.flush()
    return grant, execution
