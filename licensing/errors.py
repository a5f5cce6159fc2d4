"""Licensing errors a user can cause, each a kind of the one error root (registry.errors)."""

from __future__ import annotations

from registry.errors import BadRequest, Conflict, CopymarkError, Invalid, NotFound


class LicensingError(CopymarkError):
    """Base of every licensing error; it sets no status or code, so the kind each subclass adds
    decides them."""


class InvalidAmountError(LicensingError, Invalid):
    """An amount is not a whole number of minor units, or basis points are out of range."""

    code = "amount_invalid"


class UnknownCurrencyError(LicensingError, Invalid):
    """A currency code is not an ISO 4217 code."""

    code = "currency_unknown"


class CurrencyMismatchError(LicensingError, Invalid):
    """Two amounts that must share a currency do not."""

    code = "currency_mismatch"


class InvalidContractError(LicensingError, Invalid):
    """A contract document breaks the schema or one of its rules."""

    code = "contract_invalid"


class UnknownParentWorkError(LicensingError, NotFound):
    """A contract names a parent work whose contract cannot be found."""

    code = "parent_work_unknown"


class CyclicDerivationError(LicensingError, Invalid):
    """Parent works lead back to a work already on the derivation path."""

    code = "derivation_cyclic"


class InvalidSaleEventError(LicensingError, Invalid):
    """A sale event cannot be priced under the contract."""

    code = "sale_event_invalid"


class FrozenVersionError(LicensingError, Conflict):
    """A write tried to change the terms of a contract version that left draft."""

    code = "contract_version_frozen"


class InvalidDomainError(LicensingError, Invalid):
    """A license check names no domain or URL with a host in it."""

    code = "domain_invalid"


class MarketQueryError(LicensingError, BadRequest):
    """A marketplace search asks for something no listing could satisfy (an inverted price
    range, a page past the last one allowed, an unknown licence type)."""

    code = "market_query_invalid"
