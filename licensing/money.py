"""Money is an integer count of a currency's minor units; floats and mixed currencies are refused.

ISO 4217 fixes how many minor units make one major unit (the exponent): JPY has none, USD,
EUR and CNY have 100, KWD and BHD have 1000. Amounts never pass through binary floating point,
so a split computed here matches the ledger to the last minor unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import StrictInt

from licensing.errors import CurrencyMismatchError, InvalidAmountError, UnknownCurrencyError
from registry.bounds import bounded
from registry.messages import N_

_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD "
    "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2.split(), 2),
    **dict.fromkeys(_EXPONENT_0.split(), 0),
    **dict.fromkeys(_EXPONENT_3.split(), 3),
    **dict.fromkeys(_EXPONENT_4.split(), 4),
}

BASIS_POINTS_PER_UNIT = 10_000
# Ten trillion major units of a two-decimal currency: far beyond any sale, yet a sum of 9,000
# such amounts still fits a signed 64-bit column and every amount is exact in a JSON reader.
MAX_AMOUNT_MINOR = 10**15
MAX_UNITS = 10**12
Quantity = Annotated[StrictInt, bounded(0, MAX_UNITS, "a whole number of units")]
MinorAmount = Annotated[
    StrictInt, bounded(0, MAX_AMOUNT_MINOR, "an amount in the currency's minor unit (cents)")
]
_DECIMAL_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def currency_exponent(currency: str) -> int:
    """Return how many decimal digits the currency's minor unit has (ISO 4217)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrencyError(
            N_("unknown currency %(currency)s: expected an ISO 4217 code such as USD, EUR or JPY"),
            currency=repr(currency),
        ) from None


def require_whole_minor_units(value: object, what: str) -> int:
    """Return value if it is an int (not bool, not float); otherwise name the problem."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(
            N_("%(what)s must be an integer number of minor units, got %(value)s (%(type)s)"),
            what=what,
            value=repr(value),
            type=type(value).__name__,
        )
    return value


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount in integer minor units of an ISO 4217 currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        require_whole_minor_units(self.amount_minor, "amount_minor")
        if not -MAX_AMOUNT_MINOR <= self.amount_minor <= MAX_AMOUNT_MINOR:
            raise InvalidAmountError(
                N_("amount %(amount)s is beyond the largest amount handled, %(most)s minor units"),
                amount=self.amount_minor,
                most=MAX_AMOUNT_MINOR,
            )
        currency_exponent(self.currency)

    @classmethod
    def unchecked(cls, amount_minor: int, currency: str) -> Money:
        """Build Money from an int and a known currency without re-checking them (hot paths)."""
        money = object.__new__(cls)
        _set_amount_minor(money, amount_minor)
        _set_currency(money, currency)
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return no money in the given currency."""
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Read a decimal amount in major units ("12.50") exactly, refusing excess precision."""
        exponent = currency_exponent(currency)
        cleaned = text.strip()
        if not _DECIMAL_AMOUNT.fullmatch(cleaned):
            raise InvalidAmountError(
                N_("amount %(amount)s is not a decimal number like 12.50"), amount=repr(text)
            )
        try:
            major = Decimal(cleaned)
        except InvalidOperation:
            raise InvalidAmountError(
                N_("amount %(amount)s is not a decimal number"), amount=repr(text)
            ) from None
        minor = major.scaleb(exponent)
        if minor != minor.to_integral_value():
            raise InvalidAmountError(
                N_("amount %(amount)s has more than %(places)s decimal places for %(currency)s"),
                amount=repr(text),
                places=exponent,
                currency=currency,
            )
        return cls(int(minor), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                N_("cannot combine %(other)s with %(currency)s: currencies differ"),
                other=other.currency,
                currency=self.currency,
            )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def format_major(self) -> str:
        """Return the amount in major units with the currency's exact number of decimals."""
        exponent = currency_exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        whole, fraction = divmod(abs(self.amount_minor), 10**exponent)
        if exponent == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.format_major()} {self.currency}"


# The slots' own setters, which a frozen dataclass leaves usable: four times quicker than
# object.__setattr__, and splitting a sales line builds its gross, each allocation and each
# running total through `Money.unchecked`.
_set_amount_minor = Money.__dict__["amount_minor"].__set__
_set_currency = Money.__dict__["currency"].__set__


@dataclass(frozen=True, slots=True, order=True)
class BasisPoints:
    """A proportion in hundredths of a percent: 10000 bp is the whole."""

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise InvalidAmountError(
                N_("basis points must be an integer, got %(value)s"), value=repr(self.value)
            )
        if not 0 <= self.value <= BASIS_POINTS_PER_UNIT:
            raise InvalidAmountError(
                N_("basis points must lie between 0 and %(most)s, got %(value)s"),
                most=BASIS_POINTS_PER_UNIT,
                value=self.value,
            )

    def __str__(self) -> str:
        return f"{self.value} bp"
