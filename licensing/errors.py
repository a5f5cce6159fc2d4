"""Licensing errors a user can cause, each carrying the HTTP status the API answers with."""

from __future__ import annotations


class LicensingError(Exception):
    """Base of every licensing error a user can cause."""

    status_code = 422


class InvalidAmountError(LicensingError):
    """An amount is not a whole number of minor units, or basis points are out of range."""


class UnknownCurrencyError(LicensingError):
    """A currency code is not an ISO 4217 code."""


class CurrencyMismatchError(LicensingError):
    """Two amounts that must share a currency do not."""


class InvalidContractError(LicensingError):
    """A contract document breaks the schema or one of its rules."""


class UnknownParentWorkError(LicensingError):
    """A contract names a parent work whose contract cannot be found."""

    status_code = 404


class CyclicDerivationError(LicensingError):
    """Parent works lead back to a work already on the derivation path."""


class InvalidSaleEventError(LicensingError):
    """A sale event cannot be priced under the contract."""


class NotFoundError(LicensingError):
    """A contract, version, offer or grant does not exist or is not visible to the user."""

    status_code = 404


class ForbiddenError(LicensingError):
    """The acting user may not act for that work or party."""

    status_code = 403


class ConflictError(LicensingError):
    """The request contradicts the current state (version number, repeated consent, buyout)."""

    status_code = 409


class FrozenVersionError(ConflictError):
    """A write tried to change the terms of a contract version that left draft."""
