"""A contract drafted from plain terms (a form's parties, prices and limits), never from YAML.

`ContractDraft.document()` writes the `copymark.contract/v1` document those terms mean, so the
contract a form proposes is checked by exactly the rules a hand-written document is
(`licensing.contract.parse_contract_data`). Amounts are integer minor units, shares basis points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from licensing.contract import Contract, parse_contract_data
from licensing.references import work_reference

_NOT_IN_ID: Final = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class DraftParty:
    """A party named by the email address of the account that will consent for it."""

    email: str
    role: str
    share_bp: int


@dataclass(frozen=True, slots=True)
class DraftTier:
    """From this many cumulative units on, a royalty rate or a fixed amount per unit."""

    from_units: int
    rate_bp: int | None = None
    per_unit_minor: int | None = None


@dataclass(frozen=True, slots=True)
class DraftPackage:
    """A wholesale package: a fixed fee for, optionally, a number of units."""

    package_id: str
    fee_minor: int
    units: int | None = None


@dataclass(frozen=True, slots=True)
class ContractDraft:
    """A work's contract terms as a form states them; territories and term bound every package
    and the buyout (none named: worldwide; no term: perpetual)."""

    work_id: int
    contract_key: str
    version: int
    currency: str
    ai_training: str
    parties: tuple[DraftParty, ...]
    retail_tiers: tuple[DraftTier, ...] = ()
    packages: tuple[DraftPackage, ...] = ()
    buyout_fee_minor: int | None = None
    territories: tuple[str, ...] = ()
    term_months: int | None = None
    party_ids: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "party_ids", party_ids(self.parties))

    def document(self) -> dict[str, Any]:
        """The contract document these terms mean."""
        document: dict[str, Any] = {
            "format": "copymark.contract/v1",
            "contract_id": self.contract_key,
            "version": self.version,
            "subject": {"work": work_reference(self.work_id)},
            "currency": self.currency,
            "ai_training": self.ai_training,
            "parties": [
                {
                    "id": party_id,
                    "account": f"acct:{party.email}",
                    "role": party.role,
                    "share_bp": party.share_bp,
                }
                for party_id, party in zip(self.party_ids, self.parties, strict=True)
            ],
        }
        if self.retail_tiers:
            document["retail"] = {"tiers": [self._tier(tier) for tier in self.retail_tiers]}
        limits: dict[str, Any] = {}
        if self.territories:
            limits["territories"] = list(self.territories)
        if self.term_months is not None:
            limits["term_months"] = self.term_months
        if self.packages:
            document["wholesale"] = {
                "packages": [
                    {"id": package.package_id, "fee": self._money(package.fee_minor)}
                    | ({"units": package.units} if package.units is not None else {})
                    | limits
                    for package in self.packages
                ]
            }
        if self.buyout_fee_minor is not None:
            document["buyout"] = {"fee": self._money(self.buyout_fee_minor)} | limits
        return document

    def contract(self) -> Contract:
        """The validated contract; InvalidContractError names what the terms break."""
        return parse_contract_data(self.document())

    def _money(self, amount_minor: int) -> dict[str, Any]:
        return {"amount_minor": amount_minor, "currency": self.currency}

    def _tier(self, tier: DraftTier) -> dict[str, Any]:
        royalty = (
            {"rate_bp": tier.rate_bp}
            if tier.rate_bp is not None
            else {"per_unit": self._money(tier.per_unit_minor or 0)}
        )
        return {"from_units": tier.from_units} | royalty


def party_ids(parties: tuple[DraftParty, ...]) -> tuple[str, ...]:
    """Readable, distinct party ids from the parties' addresses: "ana", "ana-2"."""
    taken: set[str] = set()
    ids: list[str] = []
    for party in parties:
        base = _NOT_IN_ID.sub("-", party.email.split("@", 1)[0]).strip("-._")[:100] or "party"
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        ids.append(candidate)
    return tuple(ids)
