"""Factories for contract documents: valid by default, one override away from each refusal."""

from __future__ import annotations

from typing import Any

from licensing.contract import Contract, parse_contract_data


def contract_data(**overrides: Any) -> dict[str, Any]:
    """Return a valid three-party retail contract document, with top-level keys overridden."""
    document: dict[str, Any] = {
        "format": "copymark.contract/v1",
        "contract_id": "c-1",
        "version": 1,
        "subject": {"work": "work-1"},
        "currency": "USD",
        "ai_training": "not_allowed",
        "parties": [
            {"id": "platform", "account": "platform:copymark", "role": "platform", "share_bp": 0},
            {"id": "ana", "account": "acct:ana", "role": "creator", "share_bp": 6000},
            {"id": "ben", "account": "acct:ben", "role": "co_creator", "share_bp": 4000},
        ],
        "platform_fee": {"party": "platform", "rate_bp": 1000},
        "retail": {"tiers": [{"from_units": 0, "rate_bp": 1000}]},
    }
    document.update(overrides)
    return document


def usd(amount_minor: int) -> dict[str, Any]:
    """Return a document amount in US cents."""
    return {"amount_minor": amount_minor, "currency": "USD"}


def make_contract(**overrides: Any) -> Contract:
    """Return a parsed contract built from `contract_data`."""
    return parse_contract_data(contract_data(**overrides))


def parties(*shares: tuple[str, int], role: str = "creator") -> list[dict[str, Any]]:
    """Return parties with the given ids and shares, all of one role."""
    return [
        {"id": party_id, "account": f"acct:{party_id}", "role": role, "share_bp": share}
        for party_id, share in shares
    ]


def derived_contract(work: str, parent_shares: dict[str, int], **overrides: Any) -> Contract:
    """Return a fee-less contract of `work` deriving from the given parent works."""
    document = contract_data(
        contract_id=f"c-{work}",
        subject={"work": work},
        parties=parties((f"{work}-a", 7000), (f"{work}-b", 3000)),
        platform_fee=None,
        parents=[{"work": parent, "share_bp": share} for parent, share in parent_shares.items()],
    )
    document.pop("platform_fee")
    document.update(overrides)
    return parse_contract_data(document)
