"""A contract document is valid only if it passes the published JSON Schema and every rule below.

The document is declarative data, written as JSON or YAML, versioned by its `format` tag
(`copymark.contract/v1`) and by its own `version` number. The pydantic models here are the
source of the published schema (`licensing/schema/contract-v1.schema.json`); a test keeps the
file in sync. Amounts are objects `{amount_minor, currency}` in integer minor units so that a
document cannot silently mix currencies; basis points (bp) are integers, 10000 bp is the whole.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from licensing.errors import InvalidContractError, UnknownCurrencyError
from licensing.money import BASIS_POINTS_PER_UNIT, MAX_AMOUNT_MINOR, currency_exponent
from licensing.wording import located
from registry.messages import N_, Message, Param, problems_listed

CONTRACT_SCHEMA_PATH = Path(__file__).parent / "schema" / "contract-v1.schema.json"
CONTRACT_SCHEMA_ID = "urn:copymark:schema:contract:v1"
MAX_DOCUMENT_BYTES = 1_048_576
_MAX_REPORTED_PROBLEMS = 5

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
AccountRef = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^\S+$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Territory = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
MinorUnits = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)]
PositiveCount = Annotated[StrictInt, Field(ge=1)]
Bp = Annotated[StrictInt, Field(ge=0, le=BASIS_POINTS_PER_UNIT)]
PartyRole = Literal["creator", "co_creator", "rights_holder", "agent", "platform", "upstream_work"]
AiTraining = Literal["allowed", "not_allowed", "licensed_separately"]
_Strict = ConfigDict(extra="forbid", frozen=True)


class ContractRuleError(ValueError):
    """A contract rule a model checks, broken; pydantic reports it under the field's path.

    Its wording keeps the values apart (like `CopymarkError`'s), so that the contract form can
    show the rule in the reader's language.
    """

    def __init__(self, template: str, /, **params: Param) -> None:
        self.wording = Message(template, params)
        super().__init__(self.wording.english())


class MoneyAmount(BaseModel):
    """An amount in integer minor units of an ISO 4217 currency."""

    model_config = _Strict

    amount_minor: MinorUnits
    currency: CurrencyCode

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        try:
            currency_exponent(currency)
        except UnknownCurrencyError as error:
            raise ContractRuleError(error.wording.template, **error.wording.params) from None
        return currency


class Subject(BaseModel):
    """The work or the collection the contract is attached to (exactly one)."""

    model_config = _Strict

    work: Identifier | None = None
    collection: Identifier | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.work is None) == (self.collection is None):
            raise ContractRuleError(N_("subject must name exactly one of 'work' or 'collection'"))
        return self


class Party(BaseModel):
    """A party to the contract: an account, its role and its share of the parties' pool."""

    model_config = _Strict

    id: Identifier
    account: AccountRef
    role: PartyRole
    share_bp: Bp


class PlatformFee(BaseModel):
    """The platform's cut of the gross, taken before anything else, paid to a platform party."""

    model_config = _Strict

    party: Identifier
    rate_bp: Bp


class ParentWork(BaseModel):
    """A work this one derives from; its contract splits its share of the net first."""

    model_config = _Strict

    work: Identifier
    share_bp: Bp


class Advance(BaseModel):
    """An advance or minimum guarantee, recouped from retail royalties before shares are paid."""

    model_config = _Strict

    kind: Literal["advance", "minimum_guarantee"] = "advance"
    amount: MoneyAmount


class RetailTier(BaseModel):
    """One escalation step: from a cumulative threshold on, this rate or per-unit amount applies."""

    model_config = _Strict

    from_units: Annotated[StrictInt, Field(ge=0)] | None = None
    from_revenue_minor: Annotated[StrictInt, Field(ge=0)] | None = None
    rate_bp: Bp | None = Field(default=None, description="royalty as a rate of net sale price")
    per_unit: MoneyAmount | None = Field(default=None, description="fixed royalty per unit")

    @model_validator(mode="after")
    def _one_threshold_one_royalty(self) -> Self:
        if (self.from_units is None) == (self.from_revenue_minor is None):
            raise ContractRuleError(
                N_("a tier needs exactly one of 'from_units' or 'from_revenue_minor'")
            )
        if (self.rate_bp is None) == (self.per_unit is None):
            raise ContractRuleError(N_("a tier needs exactly one of 'rate_bp' or 'per_unit'"))
        return self

    @property
    def threshold(self) -> int:
        """Return where the tier starts, in units or in revenue minor units."""
        return self.from_units if self.from_units is not None else self.from_revenue_minor or 0


def _check_tiers(tiers: list[RetailTier]) -> list[RetailTier]:
    if not tiers:
        raise ContractRuleError(N_("at least one tier is required"))
    kinds = {tier.from_units is not None for tier in tiers}
    if len(kinds) > 1:
        raise ContractRuleError(
            N_("tiers mix 'from_units' and 'from_revenue_minor'; use one threshold kind")
        )
    if tiers[0].threshold != 0:
        raise ContractRuleError(
            N_("the first tier must start at 0, not %(start)s"), start=tiers[0].threshold
        )
    for number, (previous, tier) in enumerate(pairwise(tiers), start=2):
        if tier.threshold == previous.threshold:
            raise ContractRuleError(
                N_("tiers %(earlier)s and %(tier)s overlap: both start at %(start)s"),
                earlier=number - 1,
                tier=number,
                start=tier.threshold,
            )
        if tier.threshold < previous.threshold:
            raise ContractRuleError(
                N_(
                    "tiers are unordered: tier %(tier)s starts at %(start)s, "
                    "before tier %(earlier)s at %(earlier_start)s"
                ),
                tier=number,
                start=tier.threshold,
                earlier=number - 1,
                earlier_start=previous.threshold,
            )
    return tiers


class ChannelRates(BaseModel):
    """Retail tiers that replace the default ones for a sales channel and/or territory."""

    model_config = _Strict

    channel: Identifier | None = None
    territory: Territory | None = None
    tiers: list[RetailTier]

    @model_validator(mode="after")
    def _scoped(self) -> Self:
        if self.channel is None and self.territory is None:
            raise ContractRuleError(N_("channel rates need a 'channel', a 'territory' or both"))
        _check_tiers(self.tiers)
        return self


class RetailTerms(BaseModel):
    """Per-unit retail royalties: escalating tiers, channel/territory rates and a lifetime cap."""

    model_config = _Strict

    tiers: list[RetailTier]
    by_channel: list[ChannelRates] = Field(default_factory=list)
    cap: MoneyAmount | None = Field(
        default=None, description="most royalties payable over the life of the license"
    )

    @field_validator("tiers")
    @classmethod
    def _ordered(cls, tiers: list[RetailTier]) -> list[RetailTier]:
        return _check_tiers(tiers)

    @field_validator("by_channel")
    @classmethod
    def _distinct_scopes(cls, rates: list[ChannelRates]) -> list[ChannelRates]:
        seen: set[tuple[str | None, str | None]] = set()
        for entry in rates:
            scope = (entry.channel, entry.territory)
            if scope in seen:
                raise ContractRuleError(
                    N_(
                        "channel rates overlap: channel=%(channel)s territory=%(territory)s "
                        "appears twice"
                    ),
                    channel=str(entry.channel),
                    territory=str(entry.territory),
                )
            seen.add(scope)
        return rates


class WholesalePackage(BaseModel):
    """A fixed fee for a bundle of units and/or a term and territory."""

    model_config = _Strict

    id: Identifier
    fee: MoneyAmount
    units: PositiveCount | None = None
    term_months: PositiveCount | None = None
    territories: list[Territory] = Field(default_factory=list)


class VolumeTier(BaseModel):
    """The unit price for every unit of a purchase of at least `from_units` units."""

    model_config = _Strict

    from_units: PositiveCount
    unit_price: MoneyAmount


class WholesaleTerms(BaseModel):
    """Wholesale pricing: named fixed-fee packages and/or volume price tiers."""

    model_config = _Strict

    packages: list[WholesalePackage] = Field(default_factory=list)
    volume_tiers: list[VolumeTier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _priced(self) -> Self:
        if not self.packages and not self.volume_tiers:
            raise ContractRuleError(N_("wholesale terms need 'packages', 'volume_tiers' or both"))
        ids = [package.id for package in self.packages]
        duplicates = sorted({package_id for package_id in ids if ids.count(package_id) > 1})
        if duplicates:
            raise ContractRuleError(
                N_("wholesale package ids repeat: %(ids)s"), ids=", ".join(duplicates)
            )
        if self.volume_tiers and self.volume_tiers[0].from_units != 1:
            raise ContractRuleError(
                N_("the first volume tier must start at 1 unit, not %(start)s"),
                start=self.volume_tiers[0].from_units,
            )
        for number, (previous, tier) in enumerate(pairwise(self.volume_tiers), start=2):
            if tier.from_units <= previous.from_units:
                raise ContractRuleError(
                    N_(
                        "volume tiers overlap or are unordered: tier %(tier)s starts at "
                        "%(start)s units, tier %(earlier)s at %(earlier_start)s"
                    ),
                    tier=number,
                    start=tier.from_units,
                    earlier=number - 1,
                    earlier_start=previous.from_units,
                )
        return self


class BuyoutTerms(BaseModel):
    """A one-time fee for exclusive rights (worldwide when no territories are named)."""

    model_config = _Strict

    fee: MoneyAmount
    territories: list[Territory] = Field(default_factory=list)
    term_months: PositiveCount | None = Field(default=None, description="absent means perpetual")


class Contract(BaseModel):
    """A versioned contract document attached to a work or a collection."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Copymark contract v1")

    format: Literal["copymark.contract/v1"]
    contract_id: Identifier
    version: PositiveCount
    subject: Subject
    currency: CurrencyCode
    parties: Annotated[list[Party], Field(min_length=1)]
    platform_fee: PlatformFee | None = None
    parents: list[ParentWork] = Field(default_factory=list)
    advance: Advance | None = None
    ai_training: AiTraining
    retail: RetailTerms | None = None
    wholesale: WholesaleTerms | None = None
    buyout: BuyoutTerms | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        return MoneyAmount._known_currency(currency)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_parties(self)
        _check_parents(self)
        for where, amount in _amounts(self):
            if amount.currency != self.currency:
                raise ContractRuleError(
                    N_(
                        "currency mismatch: %(field)s is in %(currency)s, "
                        "the contract's currency is %(contract_currency)s"
                    ),
                    field=where,
                    currency=amount.currency,
                    contract_currency=self.currency,
                )
        if self.retail is None and self.wholesale is None and self.buyout is None:
            raise ContractRuleError(
                N_("the contract offers no sale type: add retail, wholesale or buyout")
            )
        if self.advance is not None and self.retail is None:
            raise ContractRuleError(
                N_("an advance is recouped from retail royalties: add retail terms")
            )
        return self

    def sale_types(self) -> tuple[str, ...]:
        """Return the sale types this contract prices."""
        offered = (("retail", self.retail), ("wholesale", self.wholesale), ("buyout", self.buyout))
        return tuple(name for name, terms in offered if terms is not None)


def _check_parties(contract: Contract) -> None:
    ids = [party.id for party in contract.parties]
    duplicates = sorted({party_id for party_id in ids if ids.count(party_id) > 1})
    if duplicates:
        raise ContractRuleError(N_("party ids repeat: %(ids)s"), ids=", ".join(duplicates))
    total = sum(party.share_bp for party in contract.parties)
    if total != BASIS_POINTS_PER_UNIT:
        raise ContractRuleError(
            N_("party shares sum to %(total)s bp; they must sum to exactly %(whole)s bp"),
            total=total,
            whole=BASIS_POINTS_PER_UNIT,
        )
    fee = contract.platform_fee
    if fee is not None:
        recipient = next((party for party in contract.parties if party.id == fee.party), None)
        if recipient is None:
            raise ContractRuleError(
                N_("platform_fee.party %(party)s is not a party of this contract"),
                party=repr(fee.party),
            )
        if recipient.role != "platform":
            raise ContractRuleError(
                N_("platform_fee.party %(party)s has role %(role)s, not 'platform'"),
                party=repr(fee.party),
                role=repr(recipient.role),
            )


def _check_parents(contract: Contract) -> None:
    works = [parent.work for parent in contract.parents]
    duplicates = sorted({work for work in works if works.count(work) > 1})
    if duplicates:
        raise ContractRuleError(N_("parent works repeat: %(works)s"), works=", ".join(duplicates))
    if contract.subject.work is not None and contract.subject.work in works:
        raise ContractRuleError(
            N_("derivation cycle: %(work)s names itself as a parent work"),
            work=contract.subject.work,
        )
    total = sum(parent.share_bp for parent in contract.parents)
    if total > BASIS_POINTS_PER_UNIT:
        raise ContractRuleError(
            N_("parent work shares sum to %(total)s bp, more than the whole (%(whole)s)"),
            total=total,
            whole=BASIS_POINTS_PER_UNIT,
        )


def _amounts(contract: Contract) -> Iterator[tuple[str, MoneyAmount]]:
    if contract.advance is not None:
        yield "advance.amount", contract.advance.amount
    if contract.retail is not None:
        retail = contract.retail
        if retail.cap is not None:
            yield "retail.cap", retail.cap
        schedules = [("retail.tiers", retail.tiers)] + [
            (f"retail.by_channel[{index}].tiers", entry.tiers)
            for index, entry in enumerate(retail.by_channel)
        ]
        for prefix, tiers in schedules:
            for index, tier in enumerate(tiers):
                if tier.per_unit is not None:
                    yield f"{prefix}[{index}].per_unit", tier.per_unit
    if contract.wholesale is not None:
        for index, package in enumerate(contract.wholesale.packages):
            yield f"wholesale.packages[{index}].fee", package.fee
        for index, volume_tier in enumerate(contract.wholesale.volume_tiers):
            yield f"wholesale.volume_tiers[{index}].unit_price", volume_tier.unit_price
    if contract.buyout is not None:
        yield "buyout.fee", contract.buyout.fee


def contract_json_schema() -> dict[str, Any]:
    """Return the JSON Schema generated from the models (what the published file must equal)."""
    schema = Contract.model_json_schema()
    header = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": CONTRACT_SCHEMA_ID}
    return header | schema


def render_contract_schema() -> str:
    """Return the schema file's exact text."""
    return json.dumps(contract_json_schema(), indent=2, sort_keys=True) + "\n"


@cache
def _schema_validator() -> Draft202012Validator:
    schema = json.loads(CONTRACT_SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _location(path: Iterator[Any] | tuple[Any, ...] | Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "document"


def parse_contract_data(data: object) -> Contract:
    """Validate decoded JSON/YAML data against the published schema, then the contract rules."""
    schema_errors = sorted(
        _schema_validator().iter_errors(data), key=lambda error: list(map(str, error.path))
    )
    if schema_errors:
        # an optional field is an anyOf with null; report the innermost reason, not the anyOf
        relevant = [best_match([error]) or error for error in schema_errors]
        # The schema validator's reasons are its own English: they stay values.
        raise _invalid(
            [located(_location(error.absolute_path), error.message) for error in relevant]
        )
    try:
        return Contract.model_validate(data)
    except ValidationError as error:
        raise _invalid(
            [_rule_problem(detail) for detail in error.errors(include_url=False)]
        ) from None


def _rule_problem(detail: ErrorDetails) -> Param:
    """A broken rule in its own wording; pydantic's own reasons as it writes them."""
    cause = detail.get("ctx", {}).get("error")
    problem: Param = (
        cause.wording
        if isinstance(cause, ContractRuleError)
        else detail["msg"].removeprefix("Value error, ")
    )
    return located(_location(detail["loc"]), problem) if detail["loc"] else problem


def _invalid(problems: list[Param]) -> InvalidContractError:
    shown = problems_listed(problems[:_MAX_REPORTED_PROBLEMS])
    hidden = len(problems) - _MAX_REPORTED_PROBLEMS
    if hidden > 0:
        return InvalidContractError(
            N_("invalid contract: %(problems)s (and %(hidden)s more)"),
            problems=shown,
            hidden=hidden,
        )
    return InvalidContractError(N_("invalid contract: %(problems)s"), problems=shown)


class _StrictYamlLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no expansion bombs) and without duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise InvalidContractError(
                N_("invalid contract: YAML aliases and anchors are not allowed")
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise InvalidContractError(
                    N_("invalid contract: key %(key)s appears twice (line %(line)s)"),
                    key=repr(key),
                    line=node.start_mark.line + 1,
                )
        return super().construct_mapping(node, deep=deep)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise InvalidContractError(
                N_("invalid contract: key %(key)s appears twice"), key=repr(key)
            )
    return dict(pairs)


def _reject_constant(name: str) -> None:
    raise InvalidContractError(N_("invalid contract: %(name)s is not a number"), name=name)


def parse_contract_text(text: str) -> Contract:
    """Parse a contract written as JSON (first character '{') or YAML."""
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise InvalidContractError(
            N_("invalid contract: the document exceeds %(most)s bytes"), most=MAX_DOCUMENT_BYTES
        )
    try:
        data = _decode(text)
    except RecursionError:
        raise InvalidContractError(
            N_("invalid contract: the document is nested too deeply")
        ) from None
    return parse_contract_data(data)


def _decode(text: str) -> object:
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(
                text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_reject_constant
            )
        except json.JSONDecodeError as error:
            raise InvalidContractError(
                N_("invalid contract: not valid JSON: %(reason)s"), reason=str(error)
            ) from None
    else:
        try:
            data = yaml.load(text, Loader=_StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as error:
            problem = str(error).replace("\n", " ")
            raise InvalidContractError(
                N_("invalid contract: not valid YAML: %(reason)s"), reason=problem
            ) from None
    return data


def load_contract(path: Path) -> Contract:
    """Read and parse a contract file (JSON or YAML)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidContractError(
            N_("cannot read %(path)s: %(reason)s"), path=str(path), reason=str(error.strerror)
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidContractError(
            N_("invalid contract: %(path)s is not UTF-8 text"), path=str(path)
        ) from None
    return parse_contract_text(text)


if __name__ == "__main__":
    CONTRACT_SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT_SCHEMA_PATH.write_text(render_contract_schema(), encoding="utf-8")
    sys.stdout.write(f"wrote {CONTRACT_SCHEMA_PATH}\n")
