"""The marketplace: published works found by text, tags and the terms of their open offers.

Everything is filtered, sorted and paged in the database; a page reads one page of works, their
count, and the open offers of only those works. Text is matched as a literal substring through
the works' full-text index and tags exactly through the `work_tags` index (both
`registry.repository`), prices in the offer's own currency (no conversion).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from licensing.errors import MarketQueryError
from licensing.models import LicenseOffer, OfferStatus
from licensing.money import Money, currency_exponent
from licensing.terms import MILLI_EXPONENT
from registry.messages import N_
from registry.models import Work
from registry.repository import work_scope, works_containing, works_tagged

PAGE_SIZE = 24
MAX_PAGE = 10_000
MAX_TAGS = 10
MAX_PRICE = Decimal(10) ** 12
SALE_TYPES = ("retail", "wholesale", "buyout")


class MarketSort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    TITLE = "title"
    PRICE_LOW = "price_low"
    PRICE_HIGH = "price_high"


@dataclass(frozen=True, slots=True)
class MarketQuery:
    """What a brand asks the marketplace for; prices are decimal major units."""

    text: str = ""
    tags: tuple[str, ...] = ()
    sale_type: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    ai_training_allowed: bool = False
    sort: MarketSort = MarketSort.NEWEST
    page: int = 1

    def __post_init__(self) -> None:
        if self.sale_type is not None and self.sale_type not in SALE_TYPES:
            raise MarketQueryError(
                N_("there is no licence type %(sale_type)s"), sale_type=repr(self.sale_type)
            )
        for bound in (self.min_price, self.max_price):
            if bound is not None and (not bound.is_finite() or not 0 <= bound <= MAX_PRICE):
                raise MarketQueryError(
                    N_("a price must be a number from 0 to %(most)s"), most=f"{MAX_PRICE:,}"
                )
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise MarketQueryError(
                N_("the lowest price (%(lowest)s) is above the highest (%(highest)s)"),
                lowest=str(self.min_price),
                highest=str(self.max_price),
            )
        if any(not character.isprintable() for character in self.text + "".join(self.tags)):
            raise MarketQueryError(N_("the search text holds control characters: type it again"))
        if len(self.tags) > MAX_TAGS:
            raise MarketQueryError(N_("search at most %(most)s tags at once"), most=MAX_TAGS)
        if not 1 <= self.page <= MAX_PAGE:
            raise MarketQueryError(N_("the page must be between 1 and %(most)s"), most=MAX_PAGE)

    @property
    def filters_offers(self) -> bool:
        return (
            self.sale_type is not None
            or self.min_price is not None
            or self.max_price is not None
            or self.ai_training_allowed
        )


@dataclass(frozen=True, slots=True)
class ListedWork:
    """What a marketplace card shows of a work: read as plain columns, not as a `Work`."""

    id: int
    title: str
    log_index: int | None


@dataclass(frozen=True, slots=True)
class Listing:
    """A work on a marketplace page, with its open offers' types and lowest up-front price."""

    work: ListedWork
    sale_types: tuple[str, ...]
    lowest_price_minor: int | None
    currency: str | None

    @property
    def lowest_price(self) -> Money | None:
        if self.lowest_price_minor is None or self.currency is None:
            return None
        return Money(self.lowest_price_minor, self.currency)


@dataclass(frozen=True, slots=True)
class MarketPage:
    listings: list[Listing]
    total: int
    page: int
    page_size: int = PAGE_SIZE
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.page_size)))


def _milli(price: Decimal) -> int:
    """A bound in thousandths of a major unit; finer fractions cannot match any price."""
    return int(price.scaleb(MILLI_EXPONENT).to_integral_value())


def search_market(session: Session, query: MarketQuery) -> MarketPage:
    """One page of the listed works matching the query, with the total that match.

    Offer filters are one `IN` over the offers' index; a price sort reads each matching work's
    lowest offer through the (work, status) index. A search or filter counts its matches in the
    same statement as its page; an unfiltered listing counts from the listing index alone.
    """
    offer_conditions: list[ColumnElement[bool]] = [col(LicenseOffer.status) == OfferStatus.OPEN]
    if query.sale_type is not None:
        offer_conditions.append(col(LicenseOffer.sale_type) == query.sale_type)
    if query.min_price is not None:
        offer_conditions.append(col(LicenseOffer.price_milli) >= _milli(query.min_price))
    if query.max_price is not None:
        offer_conditions.append(col(LicenseOffer.price_milli) <= _milli(query.max_price))
    if query.ai_training_allowed:
        offer_conditions.append(col(LicenseOffer.ai_training) == "allowed")

    conditions: list[ColumnElement[bool]] = [work_scope(None)]
    if query.filters_offers:
        conditions.append(
            col(Work.id).in_(select(col(LicenseOffer.work_id)).where(*offer_conditions))
        )
    text = query.text.strip()
    if text:
        conditions.append(works_containing(session, text))
    conditions.extend(works_tagged(tag) for tag in query.tags)

    lowest = (
        select(func.min(LicenseOffer.price_milli))
        .where(col(LicenseOffer.work_id) == Work.id, *offer_conditions)
        .correlate(Work)
        .scalar_subquery()
    )
    orderings: dict[MarketSort, list[ColumnElement[Any]]] = {
        MarketSort.NEWEST: [col(Work.id).desc()],
        MarketSort.OLDEST: [col(Work.id).asc()],
        MarketSort.TITLE: [col(Work.title).asc(), col(Work.id).asc()],
        MarketSort.PRICE_LOW: [lowest.is_(None), lowest.asc(), col(Work.id).desc()],
        MarketSort.PRICE_HIGH: [lowest.is_(None), lowest.desc(), col(Work.id).desc()],
    }

    def one_page(statement: Any) -> Any:
        return (
            statement.where(*conditions)
            .order_by(*orderings[query.sort])
            .offset((query.page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )

    card = (col(Work.id), col(Work.title), col(Work.log_index))
    counting = select(func.count(col(Work.id))).where(*conditions)
    if len(conditions) == 1:
        # An unfiltered listing pages through an index, where a count of its own is cheaper.
        total = session.exec(counting).one()
        rows = [ListedWork(*row) for row in session.execute(one_page(sa_select(*card)))]
    else:
        # A search or a filter reads every matching work to sort them anyway: the page's rows
        # carry the total as a window count, and the text search runs once, not again to count.
        found = session.execute(one_page(sa_select(*card, func.count().over()))).all()
        rows = [ListedWork(*row[:-1]) for row in found]
        # No row (nothing matches, or a page past the end) carries no total: count then.
        total = found[0][-1] if found else session.exec(counting).one()
    return MarketPage(_listings(session, rows), int(total), query.page)


def _listings(session: Session, works: list[ListedWork]) -> list[Listing]:
    ids = [work.id for work in works]
    kinds: dict[int, set[str]] = defaultdict(set)
    lowest: dict[int, tuple[int, str]] = {}
    if ids:
        # Plain columns, not offer rows: a page shows only each work's kinds and lowest price.
        for work_id, sale_type, price_minor, price_milli, currency in session.execute(
            sa_select(
                col(LicenseOffer.work_id),
                col(LicenseOffer.sale_type),
                col(LicenseOffer.price_minor),
                col(LicenseOffer.price_milli),
                col(LicenseOffer.currency),
            ).where(
                col(LicenseOffer.work_id).in_(ids), col(LicenseOffer.status) == OfferStatus.OPEN
            )
        ):
            kinds[work_id].add(sale_type)
            if price_minor is not None and currency is not None:
                known = lowest.get(work_id)
                if known is None or (price_milli or 0) < known[0]:
                    lowest[work_id] = (price_milli or 0, currency)
    listings = []
    for work in works:
        work_id = work.id
        cheapest = lowest.get(work_id)
        price_minor = None
        if cheapest is not None:
            price_minor = _minor_of(cheapest[0], cheapest[1])
        listings.append(
            Listing(
                work,
                tuple(kind for kind in SALE_TYPES if kind in kinds[work_id]),
                price_minor,
                cheapest[1] if cheapest else None,
            )
        )
    return listings


def _minor_of(milli: int, currency: str) -> int:
    return int(milli // 10 ** (MILLI_EXPONENT - currency_exponent(currency)))
