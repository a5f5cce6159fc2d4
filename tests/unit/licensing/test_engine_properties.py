"""Invariants of the split engine over random contracts and sale events."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from licensing.contract import Contract, parse_contract_data
from licensing.engine import Execution, RetailSale, compile_contract, execute
from licensing.money import Money
from tests.unit.licensing.factories import contract_data

ROLES = ["creator", "co_creator", "rights_holder", "agent", "upstream_work"]
WHOLE = 10_000

party_ids = st.from_regex(r"u[a-z0-9]{0,6}", fullmatch=True)


@st.composite
def shares(draw: st.DrawFn, max_parties: int = 8) -> list[int]:
    count = draw(st.integers(min_value=1, max_value=max_parties))
    cuts = sorted(draw(st.lists(st.integers(0, WHOLE), min_size=count - 1, max_size=count - 1)))
    return [high - low for low, high in zip([0, *cuts], [*cuts, WHOLE], strict=True)]


@st.composite
def party_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    bps = draw(shares())
    ids = draw(st.lists(party_ids, min_size=len(bps), max_size=len(bps), unique=True))
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=len(bps), max_size=len(bps)))
    return [
        {"id": party_id, "account": f"acct:{party_id}", "role": role, "share_bp": bp}
        for party_id, role, bp in zip(ids, roles, bps, strict=True)
    ]


@st.composite
def unit_tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    starts = draw(st.lists(st.integers(1, 50_000), max_size=3, unique=True))
    rates = draw(
        st.lists(st.integers(0, WHOLE), min_size=len(starts) + 1, max_size=len(starts) + 1)
    )
    return [
        {"from_units": start, "rate_bp": rate}
        for start, rate in zip([0, *sorted(starts)], rates, strict=True)
    ]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    platform = {"id": "platform", "account": "platform:copymark", "role": "platform", "share_bp": 0}
    document = contract_data(
        parties=[platform, *draw(party_lists())],
        platform_fee={"party": "platform", "rate_bp": draw(st.integers(0, 5000))},
        retail={"tiers": draw(unit_tiers())},
    )
    advance = draw(st.none() | st.integers(0, 10**7))
    if advance is not None:
        document["advance"] = {"amount": {"amount_minor": advance, "currency": "USD"}}
    return document


sales = st.builds(
    RetailSale,
    units=st.integers(0, 100_000),
    unit_price=st.builds(Money, st.integers(0, 10**6), st.just("USD")),
    units_before=st.integers(0, 10**6),
    recouped_before=st.builds(Money, st.integers(0, 10**7), st.just("USD")),
)


def amounts(execution: Execution) -> list[int]:
    return [line.amount.amount_minor for line in execution.allocations]


def exact_waterfall(contract: Contract, gross: int, recouped_before: int) -> dict[str, Fraction]:
    fee_bp = contract.platform_fee.rate_bp if contract.platform_fee else 0
    pool = gross * (1 - Fraction(fee_bp, WHOLE))
    exact = {"platform_fee": gross * Fraction(fee_bp, WHOLE)}
    if contract.advance is not None:
        outstanding = max(contract.advance.amount.amount_minor - recouped_before, 0)
        exact["recoup"] = min(pool, Fraction(outstanding))
        pool -= exact["recoup"]
    for party in contract.parties:
        exact[party.id] = pool * Fraction(party.share_bp, WHOLE)
    return exact


@settings(deadline=None)
@given(documents(), sales)
def test_allocations_sum_exactly_to_the_gross(document: dict[str, Any], sale: RetailSale) -> None:
    execution = execute(parse_contract_data(document), sale)
    assert sum(amounts(execution)) == execution.gross.amount_minor


@settings(deadline=None)
@given(documents(), sales)
def test_no_allocation_is_negative(document: dict[str, Any], sale: RetailSale) -> None:
    assert all(amount >= 0 for amount in amounts(execute(parse_contract_data(document), sale)))


@settings(deadline=None)
@given(documents(), sales, st.randoms(use_true_random=False))
def test_party_order_in_the_document_changes_no_amount(
    document: dict[str, Any], sale: RetailSale, random: Any
) -> None:
    shuffled = dict(document, parties=random.sample(document["parties"], len(document["parties"])))
    original = execute(parse_contract_data(document), sale)
    assert execute(parse_contract_data(shuffled), sale) == original


@settings(deadline=None)
@given(documents(), sales)
def test_each_line_is_within_one_minor_unit_of_its_exact_share(
    document: dict[str, Any], sale: RetailSale
) -> None:
    contract = parse_contract_data(document)
    execution = execute(contract, sale)
    recouped_before = sale.recouped_before.amount_minor if sale.recouped_before else 0
    exact = exact_waterfall(contract, execution.gross.amount_minor, recouped_before)
    paid = {
        ("recoup" if line.rule.startswith("recoup:") else line.rule): line.amount.amount_minor
        for line in execution.allocations
        if not line.rule.startswith("share:")
    }
    for party in contract.parties:
        paid[party.id] = execution.amount_for(party.id) - (
            paid.get("platform_fee", 0) if party.id == "platform" else 0
        )
    for key, value in exact.items():
        assert abs(paid.get(key, 0) - value) < 1, key


@settings(deadline=None)
@given(documents(), sales)
def test_the_royalty_is_the_exact_tiered_royalty_rounded(
    document: dict[str, Any], sale: RetailSale
) -> None:
    contract = parse_contract_data(document)
    assert contract.retail is not None
    tiers = contract.retail.tiers
    price = sale.unit_price.amount_minor if sale.unit_price else 0
    exact = Fraction(0)
    for unit in range(sale.units_before, sale.units_before + min(sale.units, 2000)):
        rate = next(tier.rate_bp for tier in reversed(tiers) if tier.threshold <= unit)
        exact += Fraction(price * (rate or 0), WHOLE)
    capped_sale = RetailSale(
        units=min(sale.units, 2000), unit_price=sale.unit_price, units_before=sale.units_before
    )
    assert abs(execute(contract, capped_sale).gross.amount_minor - exact) <= Fraction(1, 2)


@settings(deadline=None)
@given(documents(), st.lists(sales, min_size=1, max_size=8))
def test_recoupment_never_exceeds_the_advance(
    document: dict[str, Any], reports: list[RetailSale]
) -> None:
    contract = parse_contract_data(document)
    advance = contract.advance.amount.amount_minor if contract.advance else 0
    recouped = 0
    for report in reports:
        sale = RetailSale(
            units=report.units, unit_price=report.unit_price, recouped_before=Money(recouped, "USD")
        )
        execution = execute(contract, sale)
        recouped += sum(
            line.amount.amount_minor
            for line in execution.allocations
            if line.rule.startswith("recoup:")
        )
        assert recouped <= advance


@st.composite
def chains(draw: st.DrawFn) -> tuple[list[Contract], list[int]]:
    depth = draw(st.integers(1, 5))
    parent_bps = draw(st.lists(st.integers(0, WHOLE), min_size=depth, max_size=depth))
    contracts = []
    for level in range(depth + 1):
        document = contract_data(
            contract_id=f"c-{level}",
            subject={"work": f"work-{level}"},
            parties=draw(party_lists()),
            parents=(
                [{"work": f"work-{level + 1}", "share_bp": parent_bps[level]}]
                if level < depth
                else []
            ),
        )
        document.pop("platform_fee")
        contracts.append(parse_contract_data(document))
    return contracts, parent_bps


@settings(deadline=None)
@given(chains(), st.integers(0, 10**9))
def test_upstream_shares_are_exact_through_chains_of_derivatives(
    chain: tuple[list[Contract], list[int]], price: int
) -> None:
    contracts, parent_bps = chain
    by_work = {contract.subject.work or "": contract for contract in contracts}
    compiled = compile_contract(contracts[0], by_work.get)
    execution = execute(compiled, RetailSale(units=1, unit_price=Money(price, "USD")))
    gross = execution.gross.amount_minor
    reaching = Fraction(gross)
    for level, contract in enumerate(contracts):
        kept = (
            reaching * (1 - Fraction(parent_bps[level], WHOLE))
            if level < len(parent_bps)
            else reaching
        )
        for party in contract.parties:
            label = party.id if level == 0 else f"work-{level}/{party.id}"
            exact = kept * Fraction(party.share_bp, WHOLE)
            assert abs(execution.amount_for(label) - exact) < 1, label
        if level < len(parent_bps):
            reaching *= Fraction(parent_bps[level], WHOLE)
    assert sum(amounts(execution)) == gross
