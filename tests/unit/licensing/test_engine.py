from __future__ import annotations

from typing import Any

import pytest

from licensing.contract import Contract
from licensing.engine import (
    Buyout,
    CompiledContract,
    RetailSale,
    WholesalePurchase,
    compile_contract,
    execute,
)
from licensing.errors import (
    CurrencyMismatchError,
    CyclicDerivationError,
    InvalidContractError,
    InvalidSaleEventError,
    UnknownParentWorkError,
)
from licensing.money import Money
from tests.unit.licensing.factories import derived_contract, make_contract, parties, usd


def cents(amount: int) -> Money:
    return Money(amount, "USD")


def split(contract: Contract | CompiledContract, event: Any) -> dict[tuple[str, str], int]:
    execution = execute(contract, event)
    return {(line.party, line.rule): line.amount.amount_minor for line in execution.allocations}


def royalty(contract: Contract, event: RetailSale) -> int:
    return execute(contract, event).gross.amount_minor


def test_takes_the_platform_fee_then_splits_by_share() -> None:
    allocations = split(make_contract(), RetailSale(units=10, unit_price=cents(1000)))
    assert allocations == {
        ("platform", "platform_fee"): 100,
        ("ana", "share:creator"): 540,
        ("ben", "share:co_creator"): 360,
    }


def test_escalates_unit_tiers_marginally_across_a_threshold() -> None:
    tiers = [{"from_units": 0, "rate_bp": 500}, {"from_units": 100, "rate_bp": 1000}]
    contract = make_contract(retail={"tiers": tiers})
    sale = RetailSale(units=20, unit_price=cents(1000), units_before=90)
    assert royalty(contract, sale) == 10 * 50 + 10 * 100


def test_escalates_revenue_tiers_from_cumulative_revenue() -> None:
    tiers = [
        {"from_revenue_minor": 0, "rate_bp": 500},
        {"from_revenue_minor": 10_000, "rate_bp": 1000},
    ]
    contract = make_contract(retail={"tiers": tiers})
    sale = RetailSale(units=4, net_revenue=cents(10_000), revenue_before=cents(5000))
    assert royalty(contract, sale) == 250 + 500


def test_prices_fixed_per_unit_royalties_across_revenue_tiers() -> None:
    tiers = [
        {"from_revenue_minor": 0, "per_unit": usd(100)},
        {"from_revenue_minor": 1000, "per_unit": usd(200)},
    ]
    contract = make_contract(retail={"tiers": tiers})
    assert royalty(contract, RetailSale(units=10, net_revenue=cents(2000))) == 5 * 100 + 5 * 200


def test_fixed_per_unit_royalties_need_no_price() -> None:
    contract = make_contract(retail={"tiers": [{"from_units": 0, "per_unit": usd(75)}]})
    assert royalty(contract, RetailSale(units=4)) == 300


def test_rounds_the_royalty_half_up_to_the_minor_unit() -> None:
    assert royalty(make_contract(), RetailSale(units=1, unit_price=cents(5))) == 1
    assert royalty(make_contract(), RetailSale(units=1, unit_price=cents(4))) == 0


@pytest.mark.parametrize(
    ("channel", "territory", "rate_bp"),
    [("online", "US", 1500), ("online", "FR", 1200), ("shop", "US", 1100), ("shop", "FR", 1000)],
)
def test_picks_the_most_specific_channel_and_territory_rates(
    channel: str, territory: str, rate_bp: int
) -> None:
    def scoped(rate: int, **scope: str) -> dict[str, Any]:
        return scope | {"tiers": [{"from_units": 0, "rate_bp": rate}]}

    retail = {
        "tiers": [{"from_units": 0, "rate_bp": 1000}],
        "by_channel": [
            scoped(1100, territory="US"),
            scoped(1200, channel="online"),
            scoped(1500, channel="online", territory="US"),
        ],
    }
    sale = RetailSale(units=1, unit_price=cents(10_000), channel=channel, territory=territory)
    assert royalty(make_contract(retail=retail), sale) == rate_bp


def test_stops_royalties_at_the_lifetime_cap() -> None:
    retail = {"tiers": [{"from_units": 0, "rate_bp": 1000}], "cap": usd(1500)}
    sale = RetailSale(units=10, unit_price=cents(1000), royalties_before=cents(1000))
    assert royalty(make_contract(retail=retail), sale) == 500


def test_pays_nothing_once_the_cap_is_reached() -> None:
    retail = {"tiers": [{"from_units": 0, "rate_bp": 1000}], "cap": usd(1500)}
    sale = RetailSale(units=10, unit_price=cents(1000), royalties_before=cents(1500))
    assert execute(make_contract(retail=retail), sale).allocations == ()


def test_recoups_the_advance_before_paying_shares() -> None:
    contract = make_contract(advance={"amount": usd(500)})
    allocations = split(contract, RetailSale(units=10, unit_price=cents(1000)))
    assert allocations == {
        ("platform", "platform_fee"): 100,
        ("licensee", "recoup:advance"): 500,
        ("ana", "share:creator"): 240,
        ("ben", "share:co_creator"): 160,
    }


def test_recoups_only_what_is_still_outstanding() -> None:
    contract = make_contract(advance={"kind": "minimum_guarantee", "amount": usd(500)})
    sale = RetailSale(units=10, unit_price=cents(1000), recouped_before=cents(200))
    assert split(contract, sale)[("licensee", "recoup:minimum_guarantee")] == 300


def test_pays_shares_in_full_once_the_advance_is_recouped() -> None:
    contract = make_contract(advance={"amount": usd(500)})
    sale = RetailSale(units=10, unit_price=cents(1000), recouped_before=cents(500))
    assert split(contract, sale)[("ana", "share:creator")] == 540


def test_breaks_equal_remainders_by_party_id() -> None:
    contract = make_contract(
        parties=parties(("zoe", 5000), ("amy", 5000)),
        platform_fee=None,
        retail={"tiers": [{"from_units": 0, "per_unit": usd(1)}]},
    )
    assert split(contract, RetailSale(units=1)) == {("amy", "share:creator"): 1}


def test_sells_a_wholesale_package_at_its_fee() -> None:
    wholesale = {"packages": [{"id": "bundle", "units": 100, "fee": usd(50_000)}]}
    execution = execute(make_contract(wholesale=wholesale), WholesalePurchase(package="bundle"))
    assert execution.gross == cents(50_000)


def test_refuses_a_package_bought_with_another_unit_count() -> None:
    wholesale = {"packages": [{"id": "bundle", "units": 100, "fee": usd(50_000)}]}
    with pytest.raises(InvalidSaleEventError, match="bundle of 100 units, not 7"):
        execute(make_contract(wholesale=wholesale), WholesalePurchase(units=7, package="bundle"))


def test_refuses_an_unknown_wholesale_package() -> None:
    wholesale = {"packages": [{"id": "bundle", "fee": usd(50_000)}]}
    with pytest.raises(InvalidSaleEventError, match="unknown wholesale package 'other'"):
        execute(make_contract(wholesale=wholesale), WholesalePurchase(package="other"))


@pytest.mark.parametrize(("units", "gross"), [(1, 200), (499, 499 * 200), (500, 500 * 150)])
def test_prices_every_unit_at_the_volume_tier_reached(units: int, gross: int) -> None:
    wholesale = {
        "volume_tiers": [
            {"from_units": 1, "unit_price": usd(200)},
            {"from_units": 500, "unit_price": usd(150)},
        ]
    }
    execution = execute(make_contract(wholesale=wholesale), WholesalePurchase(units=units))
    assert execution.gross.amount_minor == gross


def test_prices_wholesale_units_at_an_agreed_price() -> None:
    wholesale = {"volume_tiers": [{"from_units": 1, "unit_price": usd(200)}]}
    purchase = WholesalePurchase(units=3, unit_price=cents(120))
    assert execute(make_contract(wholesale=wholesale), purchase).gross == cents(360)


def test_splits_a_buyout_at_the_contract_fee() -> None:
    contract = make_contract(buyout={"fee": usd(100_001)})
    execution = execute(contract, Buyout())
    assert execution.sale_type == "buyout"
    assert sum(line.amount.amount_minor for line in execution.allocations) == 100_001


def test_splits_a_buyout_at_an_agreed_price() -> None:
    contract = make_contract(buyout={"fee": usd(100_000)})
    assert execute(contract, Buyout(price=cents(70_000))).gross == cents(70_000)


def test_refuses_a_sale_type_the_contract_does_not_offer() -> None:
    with pytest.raises(InvalidSaleEventError, match="offers no buyout"):
        execute(make_contract(), Buyout())


def test_refuses_an_event_in_another_currency() -> None:
    with pytest.raises(CurrencyMismatchError, match="unit_price is in EUR"):
        execute(make_contract(), RetailSale(units=1, unit_price=Money(100, "EUR")))


def test_refuses_a_rate_royalty_without_a_price() -> None:
    with pytest.raises(InvalidSaleEventError, match="net revenue or unit price"):
        execute(make_contract(), RetailSale(units=3))


@pytest.mark.parametrize(
    "build",
    [
        lambda: RetailSale(units=-1),
        lambda: RetailSale(units=1, unit_price=cents(1), net_revenue=cents(1)),
        lambda: RetailSale(units=1, unit_price=cents(-5)),
        lambda: WholesalePurchase(units=-3),
        lambda: Buyout(price=cents(-1)),
    ],
)
def test_refuses_malformed_sale_events(build: Any) -> None:
    with pytest.raises(InvalidSaleEventError):
        build()


def test_renders_the_split_as_json() -> None:
    execution = execute(make_contract(), RetailSale(units=10, unit_price=cents(1000)))
    assert execution.to_json() == {
        "gross_minor": 1000,
        "currency": "USD",
        "allocations": [
            {
                "party": "platform",
                "account": "platform:copymark",
                "amount_minor": 100,
                "rule": "platform_fee",
            },
            {"party": "ana", "account": "acct:ana", "amount_minor": 540, "rule": "share:creator"},
            {
                "party": "ben",
                "account": "acct:ben",
                "amount_minor": 360,
                "rule": "share:co_creator",
            },
        ],
    }


def test_passes_parent_shares_up_a_chain_of_derivatives() -> None:
    contracts = {
        "work-2": derived_contract("work-2", {"work-3": 5000}),
        "work-3": derived_contract("work-3", {}),
    }
    child = derived_contract("work-1", {"work-2": 2000})
    compiled = compile_contract(child, contracts.get)
    allocations = split(compiled, RetailSale(units=1, unit_price=cents(100_000)))
    # gross 10000: work-2 takes 2000, half of which goes on to work-3; splits are 70/30
    assert allocations == {
        ("work-3/work-3-a", "upstream:work-2>work-3"): 700,
        ("work-3/work-3-b", "upstream:work-2>work-3"): 300,
        ("work-2/work-2-a", "upstream:work-2"): 700,
        ("work-2/work-2-b", "upstream:work-2"): 300,
        ("work-1-a", "share:creator"): 5600,
        ("work-1-b", "share:creator"): 2400,
    }


def test_refuses_a_derivation_cycle() -> None:
    contracts = {
        "work-2": derived_contract("work-2", {"work-3": 1000}),
        "work-3": derived_contract("work-3", {"work-1": 1000}),
    }
    child = derived_contract("work-1", {"work-2": 1000})
    with pytest.raises(CyclicDerivationError, match="work-1 > work-2 > work-3 > work-1"):
        compile_contract(child, contracts.get)


def test_refuses_a_parent_work_without_a_contract() -> None:
    known: dict[str, Contract] = {}
    with pytest.raises(UnknownParentWorkError, match="work-9"):
        compile_contract(derived_contract("work-1", {"work-9": 1000}), known.get)


def test_refuses_parents_when_no_resolver_is_given() -> None:
    with pytest.raises(UnknownParentWorkError, match="no contract resolver"):
        execute(derived_contract("work-1", {"work-9": 1000}), RetailSale(units=0))


def test_refuses_a_parent_contract_in_another_currency() -> None:
    resolved = {"work-2": derived_contract("work-2", {}, currency="EUR")}
    with pytest.raises(CurrencyMismatchError, match="work-2's contract is in EUR"):
        compile_contract(derived_contract("work-1", {"work-2": 1000}), resolved.get)


def test_refuses_a_resolver_answering_for_another_work() -> None:
    wrong = {"work-2": derived_contract("work-5", {})}
    with pytest.raises(InvalidContractError, match="asked for the contract of work-2"):
        compile_contract(derived_contract("work-1", {"work-2": 1000}), wrong.get)


def test_splits_contracts_attached_to_a_collection() -> None:
    contract = make_contract(subject={"collection": "spring-2027"})
    execution = execute(contract, RetailSale(units=10, unit_price=cents(1000)))
    assert execution.gross == cents(1000)
