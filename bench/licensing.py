"""Split engine benchmark: executions per second and the cost of a deep derivative chain."""

from __future__ import annotations

import time
from typing import Any

from licensing.contract import Contract, parse_contract_data
from licensing.engine import RetailSale, compile_contract, execute
from licensing.money import Money

CHAIN_LEVELS = 10


def _contract(work: str, parties: list[tuple[str, str, int]], **terms: Any) -> Contract:
    return parse_contract_data(
        {
            "format": "copymark.contract/v1",
            "contract_id": f"bench-{work}",
            "version": 1,
            "subject": {"work": work},
            "currency": "USD",
            "ai_training": "not_allowed",
            "parties": [
                {"id": party, "account": f"acct:{party}", "role": role, "share_bp": share}
                for party, role, share in parties
            ],
            "retail": {"tiers": [{"from_units": 0, "rate_bp": 1000}]},
        }
        | terms
    )


def five_party_retail_contract() -> Contract:
    """Return a five-party retail contract with escalating tiers and a platform fee."""
    parties = [
        ("platform", "platform", 0),
        ("ana", "creator", 4000),
        ("ben", "co_creator", 2500),
        ("atelier", "rights_holder", 2000),
        ("agency", "agent", 1500),
    ]
    tiers = [
        {"from_units": 0, "rate_bp": 600},
        {"from_units": 1000, "rate_bp": 800},
        {"from_units": 10000, "rate_bp": 1000},
    ]
    return _contract(
        "work-1",
        parties,
        platform_fee={"party": "platform", "rate_bp": 1500},
        retail={"tiers": tiers},
    )


def derivative_chain(levels: int) -> dict[str, Contract]:
    """Return contracts of works chained `levels` deep: work-i derives from work-(i+1)."""
    contracts = {}
    for level in range(levels + 1):
        work = f"work-{level}"
        parents = [{"work": f"work-{level + 1}", "share_bp": 2000}] if level < levels else []
        parties = [("creator", "creator", 7000), ("holder", "rights_holder", 3000)]
        contracts[work] = _contract(work, parties, parents=parents)
    return contracts


def run_licensing_benchmark(executions: int = 50_000, chain_runs: int = 200) -> dict[str, float]:
    """Measure split executions per second and compile+execute time through a 10-level chain."""
    compiled = compile_contract(five_party_retail_contract())
    price = Money(1999, "USD")
    events = [
        RetailSale(units=1 + index % 97, unit_price=price, units_before=index * 37 % 20_000)
        for index in range(1000)
    ]
    started = time.perf_counter()
    for index in range(executions):
        execute(compiled, events[index % 1000])
    per_second = executions / (time.perf_counter() - started)

    chain = derivative_chain(CHAIN_LEVELS)
    sale = RetailSale(units=3, unit_price=price)
    started = time.perf_counter()
    for _ in range(chain_runs):
        execute(compile_contract(chain["work-0"], chain.get), sale)
    chain_ms = (time.perf_counter() - started) * 1000 / chain_runs
    return {
        "split_executions_per_s": round(per_second, 1),
        "derivative_chain_10_levels_ms": round(chain_ms, 4),
    }


if __name__ == "__main__":
    print(run_licensing_benchmark())
