"""The contract form's fields read into a `ContractDraft`, each problem worded for its field.

The form states shares and rates in percent and prices in major units ("12.50"); the draft
holds basis points and minor units. Every problem names the field it belongs to, in the
reader's language, so the page shows it beside that field while the person types and again on
submit. What only the whole contract can tell (`licensing.contract`'s rules) comes back as the
`contract` problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

from starlette.datastructures import FormData

from licensing.drafting import ContractDraft, DraftPackage, DraftParty, DraftTier
from licensing.errors import LicensingError
from licensing.money import BASIS_POINTS_PER_UNIT, Money

CURRENCIES: Final = ("USD", "EUR", "GBP", "JPY", "CNY")
ROLES: Final = ("creator", "co_creator", "rights_holder", "agent")
AI_TRAINING: Final = ("not_allowed", "allowed", "licensed_separately")
RETAIL_KINDS: Final = ("none", "rate", "per_unit")
MAX_PARTIES: Final = 20
MAX_ROWS: Final = 10
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PACKAGE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TERRITORY: Final = re.compile(r"^[A-Z]{2}$")


@dataclass
class ContractForm:
    """What the form says: the draft when it holds together, and the problems by field."""

    draft: ContractDraft | None
    problems: dict[str, str] = field(default_factory=dict)


def _rows(form: FormData, name: str) -> list[str]:
    return [str(value).strip() for value in form.getlist(name)][: MAX_ROWS * 2]


def _percent_bp(text: str) -> int | None:
    """A percentage with at most two decimals ("33.34") in basis points; None if it is none."""
    try:
        value = Decimal(text.replace("%", "").strip()) * 100
    except InvalidOperation:
        return None
    if value != value.to_integral_value() or not 0 <= value <= BASIS_POINTS_PER_UNIT:
        return None
    return int(value)


def _minor(text: str, currency: str) -> int | None:
    try:
        amount = Money.parse(text, currency).amount_minor
    except LicensingError:
        return None
    return amount if amount > 0 else None


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) <= 10**9 else None


def read_contract_form(
    form: FormData,
    *,
    work_id: int,
    contract_key: str,
    version: int,
    gettext: Callable[[str], str],
) -> ContractForm:
    """Read the posted contract form; `draft` is None when any field has a problem."""
    _ = gettext
    problems: dict[str, str] = {}
    currency = str(form.get("currency", "USD"))
    if currency not in CURRENCIES:
        problems["currency"] = _("Choose one of the listed currencies.")
        currency = "USD"
    ai_training = str(form.get("ai_training", "not_allowed"))
    if ai_training not in AI_TRAINING:
        problems["ai_training"] = _("Say whether the work may train AI models.")

    parties: list[DraftParty] = []
    emails, roles, shares = (
        _rows(form, "party_email"),
        _rows(form, "party_role"),
        _rows(form, "party_share"),
    )
    for email, role, share in zip(emails, roles, shares, strict=False):
        if not email and not share:
            continue
        if not _EMAIL.match(email):
            problems["parties"] = _("“%(email)s” is not an email address.") % {"email": email}
            continue
        share_bp = _percent_bp(share)
        if share_bp is None:
            problems["parties"] = _(
                "The share of %(email)s must be a percentage from 0 to 100, with at most two "
                "decimals."
            ) % {"email": email}
            continue
        parties.append(DraftParty(email.lower(), role if role in ROLES else "co_creator", share_bp))
    if not parties and "parties" not in problems:
        problems["parties"] = _("Name at least one party: you.")
    elif len(parties) > MAX_PARTIES:
        problems["parties"] = _("A contract has at most 20 parties.")
    elif len({party.email for party in parties}) < len(parties):
        problems["parties"] = _("Each party appears once: an address is named twice.")
    total = sum(party.share_bp for party in parties)
    if "parties" not in problems and total != BASIS_POINTS_PER_UNIT:
        problems["parties"] = _("The shares add up to %(total)s%%; they must add up to 100%%.") % {
            "total": f"{Decimal(total) / 100:g}"
        }

    tiers: list[DraftTier] = []
    retail_kind = str(form.get("retail_kind", "none"))
    if retail_kind == "rate":
        rate = _percent_bp(str(form.get("retail_rate", "")))
        if rate is None or rate == 0:
            problems["retail"] = _("Give the royalty rate as a percentage of the net sale price.")
        else:
            tiers.append(DraftTier(0, rate_bp=rate))
    elif retail_kind == "per_unit":
        fee = _minor(str(form.get("retail_per_unit", "")), currency)
        if fee is None:
            problems["retail"] = _("Give the fee per unit sold as an amount, like 0.50.")
        else:
            tiers.append(DraftTier(0, per_unit_minor=fee))
    if tiers:
        starts, values = _rows(form, "tier_from"), _rows(form, "tier_value")
        for start, value in zip(starts, values, strict=False):
            if not start and not value:
                continue
            units = _count(start)
            if retail_kind == "rate":
                tier = DraftTier(units or 0, rate_bp=_percent_bp(value))
                ok = tier.rate_bp is not None
            else:
                tier = DraftTier(units or 0, per_unit_minor=_minor(value, currency))
                ok = tier.per_unit_minor is not None
            if units is None or not ok:
                problems["tiers"] = _(
                    "Each further tier needs the units it starts from and its rate or fee."
                )
                break
            if units <= tiers[-1].from_units:
                problems["tiers"] = _("Each tier starts at more units than the one before it.")
                break
            tiers.append(tier)

    packages: list[DraftPackage] = []
    for name, fee_text, units_text in zip(
        _rows(form, "package_id"),
        _rows(form, "package_fee"),
        _rows(form, "package_units"),
        strict=False,
    ):
        if not name and not fee_text and not units_text:
            continue
        fee = _minor(fee_text, currency)
        units = _count(units_text) if units_text else None
        if not _PACKAGE_ID.match(name):
            problems["wholesale"] = _(
                "Name each package with letters, digits, dots, dashes or underscores, "
                "like “pack-100”."
            )
        elif fee is None:
            problems["wholesale"] = _("Give package “%(name)s” a fee, like 250.00.") % {
                "name": name
            }
        elif units_text and units is None:
            problems["wholesale"] = _("The units of package “%(name)s” are a whole number.") % {
                "name": name
            }
        elif name in {package.package_id for package in packages}:
            problems["wholesale"] = _("Package “%(name)s” is named twice.") % {"name": name}
        else:
            packages.append(DraftPackage(name, fee, units))

    buyout_text = str(form.get("buyout_fee", "")).strip()
    buyout = _minor(buyout_text, currency) if buyout_text else None
    if buyout_text and buyout is None:
        problems["buyout"] = _("Give the buyout price as an amount, like 5000.00.")

    territories = [
        code.strip().upper() for code in str(form.get("territories", "")).split(",") if code.strip()
    ]
    if any(not _TERRITORY.match(code) for code in territories):
        problems["territories"] = _(
            "Name territories by two-letter country codes separated by commas, like “US, CN”."
        )
    term_text = str(form.get("term_months", "")).strip()
    term = _count(term_text) if term_text else None
    if term_text and term is None:
        problems["term"] = _("The term is a whole number of months; leave it empty for no end.")

    if (
        not tiers
        and not packages
        and buyout is None
        and not problems.keys()
        & {
            "retail",
            "wholesale",
            "buyout",
        }
    ):
        problems["sale_types"] = _(
            "Offer at least one way to license: retail royalties, a wholesale package or a buyout."
        )
    if problems:
        return ContractForm(None, problems)
    draft = ContractDraft(
        work_id=work_id,
        contract_key=contract_key,
        version=version,
        currency=currency,
        ai_training=ai_training,
        parties=tuple(parties),
        retail_tiers=tuple(tiers),
        packages=tuple(packages),
        buyout_fee_minor=buyout,
        territories=tuple(territories),
        term_months=term,
    )
    try:
        draft.contract()
    except LicensingError as error:
        return ContractForm(None, {"contract": error.translated(gettext)})
    return ContractForm(draft)
