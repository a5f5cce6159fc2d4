"""Commitments: a public leaf carries SHA-256(salt || canonical value) where a value is private.

The log is public, so a leaf holds a commitment instead of a sales figure, a price, a licensee's
domain, a party's name or a private work's digests. Each committed field has its own random
32-byte salt: a low-entropy value (a unit count, a domain) cannot be found by trying candidates,
and opening one field (handing over its salt and value) reveals nothing about the others. The
parties keep the openings (in the database rows they can read, and in their certificates), so
any of them can prove a figure to a third party offline, against the signed log.

Encoding: ``commitment = lowercase hex SHA-256(salt || canonical_json(value))``; an opening is
the JSON object ``{"salt": "<64 hex>", "value": <the value>}``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from registry.log.events import SHA256_HEX, JsonValue, canonical_json
from registry.messages import N_, Message, Param

SALT_SIZE = 32


class OpeningError(ValueError):
    """An opening is malformed or does not match the commitment on the leaf."""

    def __init__(self, message: str, /, **params: Param) -> None:
        self.wording = Message(message, params)
        super().__init__(self.wording.english())


@dataclass(frozen=True, slots=True)
class Opening:
    """A committed value with the salt that opens its commitment."""

    salt: bytes
    value: JsonValue

    def __post_init__(self) -> None:
        if len(self.salt) != SALT_SIZE:
            raise OpeningError(
                N_("a salt is %(size)s bytes, got %(count)s"), size=SALT_SIZE, count=len(self.salt)
            )

    @classmethod
    def of(cls, value: JsonValue) -> Opening:
        """Commit to ``value`` under a fresh random salt."""
        return cls(secrets.token_bytes(SALT_SIZE), value)

    @property
    def commitment(self) -> str:
        """Hex SHA-256(salt || canonical JSON of the value)."""
        return hashlib.sha256(self.salt + canonical_json(self.value)).hexdigest()

    def to_json(self) -> dict[str, JsonValue]:
        """The opening as published: salt in hex, value as JSON."""
        return {"salt": self.salt.hex(), "value": self.value}

    @classmethod
    def from_json(cls, document: object, name: str) -> Opening:
        """Parse an opening of the field ``name``; raises OpeningError saying what is wrong."""
        if not isinstance(document, dict) or set(document) != {"salt", "value"}:
            raise OpeningError(
                N_("the opening of %(field)s must be an object of salt and value"), field=name
            )
        salt = document["salt"]
        if not isinstance(salt, str) or not SHA256_HEX.fullmatch(salt):
            raise OpeningError(
                N_("the salt of %(field)s must be 64 lowercase hex characters"), field=name
            )
        value = document["value"]
        try:
            canonical_json(value)
        except TypeError as error:
            raise OpeningError(
                N_("the value of %(field)s is not canonical JSON: %(reason)s"),
                field=name,
                reason=str(error),
            ) from error
        return cls(bytes.fromhex(salt), value)


Openings = dict[str, Opening]


def open_values(values: Mapping[str, JsonValue]) -> Openings:
    """An opening under a fresh salt for each named value."""
    return {name: Opening.of(value) for name, value in values.items()}


def commitments_of(openings: Mapping[str, Opening]) -> dict[str, str]:
    """The commitment of each opening, as a leaf carries them."""
    return {name: opening.commitment for name, opening in openings.items()}


def openings_to_json(openings: Mapping[str, Opening]) -> dict[str, JsonValue]:
    """Openings as a JSON object keyed by field name (how rows and certificates keep them)."""
    return {name: opening.to_json() for name, opening in sorted(openings.items())}


def openings_from_json(document: object) -> Openings:
    """Parse a JSON object of openings keyed by field name; raises OpeningError."""
    if not isinstance(document, dict):
        raise OpeningError(N_("openings must be an object keyed by field name"))
    return {str(name): Opening.from_json(item, str(name)) for name, item in document.items()}


def check_openings(
    commitments: Mapping[str, str], openings: Mapping[str, Opening]
) -> dict[str, JsonValue]:
    """The opened values, once each opening is shown to match its commitment on the leaf."""
    opened: dict[str, JsonValue] = {}
    for name, opening in sorted(openings.items()):
        committed = commitments.get(name)
        if committed is None:
            raise OpeningError(N_("the leaf commits to no field named %(field)s"), field=repr(name))
        if opening.commitment != committed:
            raise OpeningError(
                N_("the opening of %(field)s does not match the leaf's commitment"), field=name
            )
        opened[name] = opening.value
    return opened
