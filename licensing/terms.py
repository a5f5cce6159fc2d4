"""What an offer sells, read from its work's active contract: price, units, territory, term.

A brand sees these terms before buying, and the marketplace filters and sorts on the copy kept
on each offer row (`price_minor`, `price_milli`, `currency`, `ai_training`), which is written
when the offer is published and rewritten whenever the work's contract gets a new active version,
so a listed price is always the price `take_license` would charge.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from licensing import repository
from licensing.contract import Contract, RetailTier, parse_contract_data
from licensing.models import LicenseOffer
from licensing.money import Money, currency_exponent

MILLI_EXPONENT = 3
"""Prices are compared in thousandths of their currency's major unit (no currency has more)."""


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """An offer's terms as a brand reads them; `price` is per unit when `per_unit`."""

    sale_type: str
    package: str | None
    price: Money | None
    per_unit: bool
    units: int | None
    territories: tuple[str, ...]
    term_months: int | None
    ai_training: str
    royalty_rate_bp: int | None
    royalty_per_unit: Money | None

    @property
    def worldwide(self) -> bool:
        return not self.territories


def to_milli(price: Money) -> int:
    """The price in thousandths of its major unit, comparable across currencies' decimals."""
    return int(price.amount_minor * 10 ** (MILLI_EXPONENT - currency_exponent(price.currency)))


def terms_of(contract: Contract, sale_type: str, package: str | None) -> OfferTerms:
    """Read the terms a sale type (and package) of a contract sells."""
    price: Money | None = None
    per_unit = False
    units: int | None = None
    territories: tuple[str, ...] = ()
    term_months: int | None = None
    first_tier: RetailTier | None = None
    if sale_type == "buyout" and contract.buyout is not None:
        price = Money(contract.buyout.fee.amount_minor, contract.buyout.fee.currency)
        territories = tuple(contract.buyout.territories)
        term_months = contract.buyout.term_months
    elif sale_type == "wholesale" and contract.wholesale is not None:
        chosen = [entry for entry in contract.wholesale.packages if entry.id == package]
        if chosen:
            price = Money(chosen[0].fee.amount_minor, chosen[0].fee.currency)
            units = chosen[0].units
            territories = tuple(chosen[0].territories)
            term_months = chosen[0].term_months
        elif contract.wholesale.volume_tiers:
            unit_price = contract.wholesale.volume_tiers[0].unit_price
            price = Money(unit_price.amount_minor, unit_price.currency)
            per_unit = True
    elif sale_type == "retail" and contract.retail is not None:
        first_tier = contract.retail.tiers[0]
    per_unit_royalty = first_tier.per_unit if first_tier is not None else None
    return OfferTerms(
        sale_type=sale_type,
        package=package,
        price=price,
        per_unit=per_unit,
        units=units,
        territories=territories,
        term_months=term_months,
        ai_training=contract.ai_training,
        royalty_rate_bp=first_tier.rate_bp if first_tier is not None else None,
        royalty_per_unit=(
            Money(per_unit_royalty.amount_minor, per_unit_royalty.currency)
            if per_unit_royalty is not None
            else None
        ),
    )


def stamp_terms(offer: LicenseOffer, contract: Contract) -> OfferTerms:
    """Copy the terms the marketplace filters on onto the offer row."""
    terms = terms_of(contract, offer.sale_type, offer.package)
    offer.price_minor = terms.price.amount_minor if terms.price is not None else None
    offer.price_milli = to_milli(terms.price) if terms.price is not None else None
    offer.currency = contract.currency
    offer.ai_training = contract.ai_training
    return terms


def restamp_open_offers(session: Session, work_id: int, document: dict[str, object]) -> None:
    """A new active contract version reprices every open offer on its work."""
    contract = parse_contract_data(document)
    for offer in repository.open_offers(session, work_id):
        stamp_terms(offer, contract)
        session.add(offer)
