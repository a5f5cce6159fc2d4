"""License offers on works: a sale type of the work's active contract, open until withdrawn.

Each use case takes the session and the acting user and never commits. Only a work's owner
publishes or withdraws its offers; anyone who may see the work sees its open offers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from licensing import repository
from licensing.contract import parse_contract_data
from licensing.errors import InvalidSaleEventError
from licensing.models import LicenseGrant, LicenseOffer, OfferStatus
from licensing.service.contracts import active_contract
from licensing.terms import OfferTerms, stamp_terms, terms_of
from licensing.wording import in_words
from registry.errors import Conflict
from registry.messages import N_, listed
from registry.models import User, persisted_id
from registry.repository import get_owned_work, visible_work


def publish_offer(
    session: Session, actor: User, work_id: int, sale_type: str, package: str | None = None
) -> LicenseOffer:
    """Offer a sale type (and, for wholesale, optionally one package) on an owned work."""
    get_owned_work(session, actor, work_id)
    version, contract = active_contract(session, work_id)
    if sale_type not in contract.sale_types():
        raise InvalidSaleEventError(
            N_(
                "the active contract of work %(work)s offers no %(sale_type)s sales "
                "(it offers %(offered)s)"
            ),
            work=work_id,
            sale_type=in_words(sale_type),
            offered=listed([in_words(offered) for offered in contract.sale_types()]),
        )
    if package is not None:
        packages = [entry.id for entry in contract.wholesale.packages] if contract.wholesale else []
        if sale_type != "wholesale" or package not in packages:
            raise InvalidSaleEventError(
                N_("no wholesale package %(package)s in the active contract"), package=repr(package)
            )
    offer = LicenseOffer(
        work_id=work_id,
        contract_id=version.contract_id,
        sale_type=sale_type,
        package=package,
        created_by=persisted_id(actor),
    )
    stamp_terms(offer, contract)
    session.add(offer)
    session.flush()
    return offer


def withdraw_offer(session: Session, actor: User, offer_id: int) -> LicenseOffer:
    """Withdraw an open offer on a work the actor owns; grants already taken stay valid."""
    offer = repository.owned_offer(session, actor, offer_id)
    if offer.status != OfferStatus.OPEN:
        raise Conflict(
            N_("offer %(offer)s is already %(status)s"),
            offer=offer_id,
            status=in_words(offer.status),
        )
    offer.status = OfferStatus.WITHDRAWN
    session.add(offer)
    session.flush()
    return offer


def list_open_offers(session: Session, viewer: User | None, work_id: int) -> Sequence[LicenseOffer]:
    """Return the open offers on a work anyone may see (a public one, or the viewer's own)."""
    visible_work(session, work_id, viewer)
    return repository.open_offers(session, work_id)


def close_open_offers(session: Session, work_id: int) -> None:
    """Close every open offer on a work, as a buyout does: it takes no further grants."""
    for open_offer in repository.open_offers(session, work_id):
        open_offer.status = OfferStatus.CLOSED
        session.add(open_offer)


def offers_with_terms(
    session: Session, viewer: User | None, work_id: int
) -> list[tuple[LicenseOffer, OfferTerms]]:
    """A visible work's open offers with the terms each sells; none without an active contract."""
    offers = list_open_offers(session, viewer, work_id)
    if not offers or repository.active_version(session, work_id) is None:
        return []
    _version, contract = active_contract(session, work_id)
    return [(offer, terms_of(contract, offer.sale_type, offer.package)) for offer in offers]


def grant_terms(session: Session, grant: LicenseGrant) -> OfferTerms:
    """The terms a grant was taken under, read from the contract version it ran under."""
    offer = repository.offer_of_grant(session, grant)
    contract = parse_contract_data(repository.version_of_grant(session, grant).document)
    return terms_of(contract, grant.sale_type, offer.package)
