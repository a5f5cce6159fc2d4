"""The split engine: every execution's allocations sum exactly to its gross, in integer minor units.

`execute(contract, event)` is pure and deterministic. The waterfall for a gross amount is:

1. `platform_fee`: the platform's rate of the gross;
2. `upstream:<work>[><work>...]`: each parent work takes its share of what is left (the net) and
   its own contract splits that share among its parties, after its own parents took theirs,
   recursively (the platform fee is charged once, at the top; parents' advances are not recouped);
3. `recoup:advance` / `recoup:minimum_guarantee`: while an advance is outstanding, the parties'
   pool goes back to the licensee until the advance is recouped;
4. `share:<role>`: the rest of the pool, by each party's share.

The whole waterfall is computed as exact rationals over one common denominator and rounded once
by largest remainder (`licensing.apportion`), so each line is within one minor unit of its exact
value, however deep the chain of parent works. Equal remainders go to the earlier line in the
canonical order: platform fee, upstream lines (parents by work id, then party id), recoupment,
shares by party id. Contracts are compiled once into plain tuples; `execute` touches no pydantic.

Retail royalties escalate marginally: the part of a report line that falls in each tier (by
cumulative units or cumulative net revenue before the report) earns that tier's rate or per-unit
amount; the royalty is rounded once, half up, to the minor unit, then limited by the lifetime cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm
from typing import Any, Literal, NamedTuple

from licensing.apportion import apportion
from licensing.contract import Contract, RetailTier
from licensing.errors import (
    CurrencyMismatchError,
    CyclicDerivationError,
    InvalidContractError,
    InvalidSaleEventError,
    UnknownParentWorkError,
)
from licensing.money import BASIS_POINTS_PER_UNIT, Money, require_whole_minor_units
from registry.messages import N_, Message

ContractResolver = Callable[[str], Contract | None]
"""Returns the active contract of a work, or None when the work has none."""

MAX_DERIVATION_DEPTH = 64
LICENSEE = "licensee"

SaleType = Literal["retail", "wholesale", "buyout", "retroactive"]
# (start, end or None for unbounded, rate_bp or None, per-unit minor units or None)
_Tier = tuple[int, int | None, int | None, int | None]
# (tiers, thresholds count units rather than revenue)
_Schedule = tuple[tuple[_Tier, ...], bool]
_Line = tuple[str, str | None, str]


def _non_negative(value: int, what: str) -> None:
    require_whole_minor_units(value, what)
    if value < 0:
        raise InvalidSaleEventError(
            N_("%(what)s must not be negative, got %(value)s"), what=what, value=value
        )


@dataclass(frozen=True, slots=True)
class RetailSale:
    """One line of a retail sales report.

    Give the net revenue or the unit price (net of taxes and discounts). The `*_before` fields
    carry what earlier reports already counted: cumulative units and net revenue (for tier
    thresholds), royalties (for the cap) and the advance recouped so far.
    """

    units: int
    unit_price: Money | None = None
    net_revenue: Money | None = None
    channel: str | None = None
    territory: str | None = None
    units_before: int = 0
    revenue_before: Money | None = None
    royalties_before: Money | None = None
    recouped_before: Money | None = None

    def __post_init__(self) -> None:
        _non_negative(self.units, "units")
        _non_negative(self.units_before, "units_before")
        if self.unit_price is not None and self.net_revenue is not None:
            raise InvalidSaleEventError(N_("give either unit_price or net_revenue, not both"))
        amounts = (
            "unit_price",
            "net_revenue",
            "revenue_before",
            "royalties_before",
            "recouped_before",
        )
        for name in amounts:
            amount = getattr(self, name)
            if amount is not None and amount.amount_minor < 0:
                raise InvalidSaleEventError(
                    N_("%(what)s must not be negative, got %(value)s"),
                    what=name,
                    value=str(amount),
                )


@dataclass(frozen=True, slots=True)
class WholesalePurchase:
    """A wholesale purchase: a package, or units at the volume tier price or an agreed price."""

    units: int = 0
    package: str | None = None
    unit_price: Money | None = None

    def __post_init__(self) -> None:
        _non_negative(self.units, "units")
        if self.unit_price is not None and self.unit_price.amount_minor < 0:
            raise InvalidSaleEventError(
                N_("%(what)s must not be negative, got %(value)s"),
                what="unit_price",
                value=str(self.unit_price),
            )


@dataclass(frozen=True, slots=True)
class Buyout:
    """A buyout at the contract's fee, or at an agreed price when one is given."""

    price: Money | None = None

    def __post_init__(self) -> None:
        if self.price is not None and self.price.amount_minor < 0:
            raise InvalidSaleEventError(
                N_("%(what)s must not be negative, got %(value)s"),
                what="price",
                value=str(self.price),
            )


@dataclass(frozen=True, slots=True)
class RetroactiveLicence:
    """A licence for a use already made (an infringement settled), at a price agreed for it.

    Any contract prices it: the rights holder names the price, and the split follows the
    contract's fixed lines and shares exactly as a sale does.
    """

    price: Money

    def __post_init__(self) -> None:
        if self.price.amount_minor <= 0:
            raise InvalidSaleEventError(
                N_("a retroactive licence costs something, not %(price)s"), price=str(self.price)
            )


SaleEvent = RetailSale | WholesalePurchase | Buyout | RetroactiveLicence


class Allocation(NamedTuple):
    """One line of a split: who receives how much, and under which rule."""

    party: str
    account: str | None
    amount: Money
    rule: str


@dataclass(frozen=True, slots=True)
class Execution:
    """The result of splitting one sale event under one contract version."""

    contract_id: str
    contract_version: int
    sale_type: SaleType
    gross: Money
    allocations: tuple[Allocation, ...]

    def amount_for(self, party: str) -> int:
        """Return the minor units allocated to a party label across all its lines."""
        return sum(line.amount.amount_minor for line in self.allocations if line.party == party)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form: gross, currency and each allocation line with its account."""
        return {
            "gross_minor": self.gross.amount_minor,
            "currency": self.gross.currency,
            "allocations": [
                {
                    "party": line.party,
                    "account": line.account,
                    "amount_minor": line.amount.amount_minor,
                    "rule": line.rule,
                }
                for line in self.allocations
            ],
        }


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """A contract version reduced to integer weights and tuples, ready for `execute`."""

    contract_id: str
    version: int
    subject: str
    currency: str
    ai_training: str
    fixed_lines: tuple[_Line, ...]
    fixed_weights: tuple[int, ...]
    pool_weight: int
    denominator: int
    share_lines: tuple[_Line, ...]
    share_bps: tuple[int, ...]
    advance: tuple[str, int] | None
    retail_default: _Schedule | None
    retail_scoped: dict[tuple[str | None, str | None], _Schedule] = field(hash=False)
    retail_cap: int | None
    packages: dict[str, tuple[int, int | None]] = field(hash=False)
    volume_tiers: tuple[tuple[int, int], ...]
    buyout_fee: int | None


def _compile_schedule(tiers: list[RetailTier]) -> _Schedule:
    starts = [tier.threshold for tier in tiers]
    ends: list[int | None] = [*starts[1:], None]
    compiled = tuple(
        (
            start,
            end,
            tier.rate_bp,
            tier.per_unit.amount_minor if tier.per_unit is not None else None,
        )
        for start, end, tier in zip(starts, ends, tiers, strict=True)
    )
    return compiled, tiers[0].from_units is not None


def _resolve_parent(
    work: str, resolver: ContractResolver | None, visiting: tuple[str, ...], currency: str
) -> Contract:
    if work in visiting:
        raise CyclicDerivationError(
            N_("derivation cycle: %(path)s"), path=" > ".join((*visiting, work))
        )
    if len(visiting) >= MAX_DERIVATION_DEPTH:
        raise CyclicDerivationError(
            N_("derivation chain deeper than %(most)s works at %(work)s"),
            most=MAX_DERIVATION_DEPTH,
            work=work,
        )
    if resolver is None:
        raise UnknownParentWorkError(
            N_("%(derivative)s names parent work %(work)s but no contract resolver was given"),
            derivative=visiting[-1],
            work=work,
        )
    parent = resolver(work)
    if parent is None:
        raise UnknownParentWorkError(N_("no contract found for parent work %(work)s"), work=work)
    if parent.subject.work != work:
        raise InvalidContractError(
            N_(
                "asked for the contract of %(work)s, the resolver returned contract "
                "%(contract)s of %(subject)s"
            ),
            work=work,
            contract=parent.contract_id,
            subject=str(parent.subject.work or parent.subject.collection),
        )
    if parent.currency != currency:
        raise CurrencyMismatchError(
            N_(
                "currency mismatch: parent work %(work)s's contract is in %(currency)s, "
                "the derivative's contract is in %(derivative_currency)s"
            ),
            work=work,
            currency=parent.currency,
            derivative_currency=currency,
        )
    return parent


def _upstream_lines(
    contract: Contract,
    resolver: ContractResolver | None,
    visiting: tuple[str, ...],
    chain: tuple[str, ...],
) -> list[tuple[_Line, Fraction]]:
    """Return a parent contract's split of one unit, labelled as upstream lines."""
    lines: list[tuple[_Line, Fraction]] = []
    taken = Fraction(0)
    for parent in sorted(contract.parents, key=lambda entry: entry.work):
        grandparent = _resolve_parent(parent.work, resolver, visiting, contract.currency)
        weight = Fraction(parent.share_bp, BASIS_POINTS_PER_UNIT)
        taken += weight
        sublines = _upstream_lines(
            grandparent, resolver, (*visiting, parent.work), (*chain, parent.work)
        )
        lines.extend((line, share * weight) for line, share in sublines)
    rest = 1 - taken
    rule = "upstream:" + ">".join(chain)
    for party in sorted(contract.parties, key=lambda entry: entry.id):
        if party.share_bp:
            label = (f"{chain[-1]}/{party.id}", party.account, rule)
            lines.append((label, rest * Fraction(party.share_bp, BASIS_POINTS_PER_UNIT)))
    return lines


def compile_contract(
    contract: Contract, resolver: ContractResolver | None = None
) -> CompiledContract:
    """Resolve parent works (refusing cycles) and reduce the contract to integer weights."""
    subject = contract.subject.work or f"collection:{contract.subject.collection}"
    visiting = (contract.subject.work,) if contract.subject.work is not None else ()
    fixed: list[tuple[_Line, Fraction]] = []
    net = Fraction(1)
    fee = contract.platform_fee
    if fee is not None and fee.rate_bp:
        account = next(party.account for party in contract.parties if party.id == fee.party)
        rate = Fraction(fee.rate_bp, BASIS_POINTS_PER_UNIT)
        fixed.append(((fee.party, account, "platform_fee"), rate))
        net -= rate
    taken = Fraction(0)
    for parent in sorted(contract.parents, key=lambda entry: entry.work):
        parent_contract = _resolve_parent(parent.work, resolver, visiting, contract.currency)
        weight = net * Fraction(parent.share_bp, BASIS_POINTS_PER_UNIT)
        taken += Fraction(parent.share_bp, BASIS_POINTS_PER_UNIT)
        sublines = _upstream_lines(
            parent_contract, resolver, (*visiting, parent.work), (parent.work,)
        )
        fixed.extend((line, share * weight) for line, share in sublines)
    pool = net * (1 - taken)
    denominator = lcm(pool.denominator, *(share.denominator for _, share in fixed))
    sharers = sorted(
        (party for party in contract.parties if party.share_bp), key=lambda entry: entry.id
    )
    retail = contract.retail
    return CompiledContract(
        contract_id=contract.contract_id,
        version=contract.version,
        subject=subject,
        currency=contract.currency,
        ai_training=contract.ai_training,
        fixed_lines=tuple(line for line, _ in fixed),
        fixed_weights=tuple(int(share * denominator) * BASIS_POINTS_PER_UNIT for _, share in fixed),
        pool_weight=int(pool * denominator),
        denominator=denominator,
        share_lines=tuple((party.id, party.account, f"share:{party.role}") for party in sharers),
        share_bps=tuple(party.share_bp for party in sharers),
        advance=(
            (f"recoup:{contract.advance.kind}", contract.advance.amount.amount_minor)
            if contract.advance is not None
            else None
        ),
        retail_default=_compile_schedule(retail.tiers) if retail is not None else None,
        retail_scoped=(
            {
                (entry.channel, entry.territory): _compile_schedule(entry.tiers)
                for entry in retail.by_channel
            }
            if retail is not None
            else {}
        ),
        retail_cap=retail.cap.amount_minor if retail is not None and retail.cap else None,
        packages=(
            {
                package.id: (package.fee.amount_minor, package.units)
                for package in contract.wholesale.packages
            }
            if contract.wholesale is not None
            else {}
        ),
        volume_tiers=(
            tuple(
                (tier.from_units, tier.unit_price.amount_minor)
                for tier in contract.wholesale.volume_tiers
            )
            if contract.wholesale is not None
            else ()
        ),
        buyout_fee=contract.buyout.fee.amount_minor if contract.buyout is not None else None,
    )


def _minor(amount: Money | None, currency: str, what: str) -> int | None:
    if amount is None:
        return None
    if amount.currency != currency:
        raise CurrencyMismatchError(
            N_("currency mismatch: %(what)s is in %(currency)s, the contract's is %(contract)s"),
            what=what,
            currency=amount.currency,
            contract=currency,
        )
    return amount.amount_minor


def _schedule_for(contract: CompiledContract, sale: RetailSale) -> _Schedule:
    scoped = contract.retail_scoped
    if scoped:
        for scope in (
            (sale.channel, sale.territory),
            (sale.channel, None),
            (None, sale.territory),
        ):
            found = scoped.get(scope)
            if found is not None:
                return found
    if contract.retail_default is None:
        raise InvalidSaleEventError(
            N_("contract %(contract)s offers no retail sales"), contract=contract.contract_id
        )
    return contract.retail_default


def _retail_royalty(contract: CompiledContract, sale: RetailSale) -> int:
    tiers, by_units = _schedule_for(contract, sale)
    currency = contract.currency
    units = sale.units
    if sale.unit_price is not None:
        revenue: int | None = units * (_minor(sale.unit_price, currency, "unit_price") or 0)
    else:
        revenue = _minor(sale.net_revenue, currency, "net_revenue")
    if by_units:
        start, amount = sale.units_before, units
    else:
        if revenue is None:
            raise InvalidSaleEventError(
                N_("tiers by revenue need the sale's net revenue or unit price")
            )
        start, amount = _minor(sale.revenue_before, currency, "revenue_before") or 0, revenue
    if amount == 0:
        return 0
    end = start + amount
    numerator = 0
    for tier_start, tier_end, rate_bp, per_unit in tiers:
        low = start if start > tier_start else tier_start
        high = end if tier_end is None or end < tier_end else tier_end
        if high <= low:
            continue
        portion = high - low
        if rate_bp is not None:
            if revenue is None:
                raise InvalidSaleEventError(
                    N_(
                        "a royalty rate of net sale price needs the sale's net revenue or unit "
                        "price"
                    )
                )
            numerator += portion * rate_bp * revenue
        elif per_unit is not None:
            numerator += portion * per_unit * units * BASIS_POINTS_PER_UNIT
    # a portion of the line is portion / amount of its units and of its revenue, so the exact
    # royalty is numerator / (amount * 10000) minor units whichever quantity the tiers count
    denominator = amount * BASIS_POINTS_PER_UNIT
    royalty = (2 * numerator + denominator) // (2 * denominator)
    cap = contract.retail_cap
    if cap is not None:
        paid = _minor(sale.royalties_before, currency, "royalties_before") or 0
        royalty = min(royalty, max(cap - paid, 0))
    return royalty


def _wholesale_gross(contract: CompiledContract, purchase: WholesalePurchase) -> int:
    if not contract.packages and not contract.volume_tiers:
        raise InvalidSaleEventError(
            N_("contract %(contract)s offers no wholesale sales"), contract=contract.contract_id
        )
    if purchase.package is not None:
        try:
            fee, bundle_units = contract.packages[purchase.package]
        except KeyError:
            known = ", ".join(sorted(contract.packages))
            raise InvalidSaleEventError(
                N_("unknown wholesale package %(package)s (packages: %(known)s)"),
                package=repr(purchase.package),
                known=known or Message(N_("none")),
            ) from None
        if purchase.units and bundle_units is not None and purchase.units != bundle_units:
            raise InvalidSaleEventError(
                N_("package %(package)s is a bundle of %(bundle)s units, not %(units)s"),
                package=purchase.package,
                bundle=bundle_units,
                units=purchase.units,
            )
        return fee
    if purchase.units == 0:
        raise InvalidSaleEventError(N_("a wholesale purchase needs a package or a number of units"))
    agreed = _minor(purchase.unit_price, contract.currency, "unit_price")
    if agreed is not None:
        return purchase.units * agreed
    if not contract.volume_tiers:
        known = ", ".join(sorted(contract.packages))
        raise InvalidSaleEventError(
            N_("contract %(contract)s sells wholesale by package only (%(known)s)"),
            contract=contract.contract_id,
            known=known,
        )
    price = next(
        price
        for from_units, price in reversed(contract.volume_tiers)
        if from_units <= purchase.units
    )
    return purchase.units * price


def _split(contract: CompiledContract, gross: int, outstanding: int) -> list[Allocation]:
    denominator = contract.denominator * BASIS_POINTS_PER_UNIT
    numerators = [gross * weight for weight in contract.fixed_weights]
    lines = list(contract.fixed_lines)
    pool = gross * contract.pool_weight
    advance = contract.advance
    if outstanding and advance is not None and pool:
        recouped = min(pool, outstanding * contract.denominator)
        numerators.append(recouped * BASIS_POINTS_PER_UNIT)
        lines.append((LICENSEE, None, advance[0]))
        pool -= recouped
    numerators.extend(pool * share_bp for share_bp in contract.share_bps)
    lines.extend(contract.share_lines)
    amounts = apportion(gross, numerators, denominator)
    currency = contract.currency
    return [
        Allocation(party, account, Money.unchecked(amount, currency), rule)
        for (party, account, rule), amount in zip(lines, amounts, strict=True)
        if amount
    ]


def execute(contract: CompiledContract | Contract, event: SaleEvent) -> Execution:
    """Price the sale event under the contract and split the gross among its parties."""
    compiled = contract if isinstance(contract, CompiledContract) else compile_contract(contract)
    outstanding = 0
    sale_type: SaleType
    if isinstance(event, RetailSale):
        sale_type = "retail"
        gross = _retail_royalty(compiled, event)
        if compiled.advance is not None:
            recouped = _minor(event.recouped_before, compiled.currency, "recouped_before") or 0
            outstanding = max(compiled.advance[1] - recouped, 0)
    elif isinstance(event, WholesalePurchase):
        sale_type = "wholesale"
        gross = _wholesale_gross(compiled, event)
    elif isinstance(event, RetroactiveLicence):
        sale_type = "retroactive"
        gross = _minor(event.price, compiled.currency, "price") or 0
    else:
        sale_type = "buyout"
        if compiled.buyout_fee is None:
            raise InvalidSaleEventError(
                N_("contract %(contract)s offers no buyout"), contract=compiled.contract_id
            )
        agreed = _minor(event.price, compiled.currency, "price")
        gross = compiled.buyout_fee if agreed is None else agreed
    return Execution(
        contract_id=compiled.contract_id,
        contract_version=compiled.version,
        sale_type=sale_type,
        gross=Money.unchecked(gross, compiled.currency),
        allocations=tuple(_split(compiled, gross, outstanding)),
    )
