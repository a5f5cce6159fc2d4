"""Log events and their canonical JSON: one event has exactly one byte encoding, forever.

Canonical JSON here: UTF-8, object keys sorted by code point, separators ``,`` and ``:``,
no insignificant whitespace, non-ASCII characters written as themselves. Only null,
booleans, strings, integers within +/-(2**53 - 1) (exact in every JSON reader), arrays
and objects with string keys are allowed: floats (including NaN and infinities) have
no single spelling across languages, so they are refused with a TypeError naming the
path of the offending value.

Every event is an object carrying ``type`` and ``version`` next to its own fields. A new
event kind is a frozen dataclass subclassing :class:`LogEvent` with its ``event_type`` and
``event_version``; ``parse_event`` finds it by type. Its fields are encoded from their
annotations: ints, booleans and strings as themselves, datetimes as RFC 3339 UTC strings,
tuples as arrays, dicts as objects, ``X | None`` as X or null. A private value never sits in
a field: the leaf carries its commitment in ``commitments`` (``PRIVATE_FIELDS`` names them).
"""

import dataclasses
import json
import re
import types
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import ClassVar, Self, Union, get_args, get_origin, get_type_hints

import orjson

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]

MAX_SAFE_INTEGER = 2**53 - 1
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class EventFormatError(ValueError):
    """A leaf is not a well-formed event of a known type and version."""

    status_code: ClassVar[int] = 422


def canonical_json(value: object) -> bytes:
    """The canonical UTF-8 JSON encoding of ``value`` (see the module docstring)."""
    encoded = _encoded_if_plain(value)
    if encoded is not None:
        return encoded
    # The checking pass names the offending value's path, or accepts what the quick pass left
    # to it (tuples, and subclasses of str and int).
    _check_json(value, "$")
    return _encoded(value).encode("utf-8")


def _encoded(value: object) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


# Every integer of 15 digits or fewer is within +/-(2**53 - 1); a longer run of digits anywhere,
# even inside a string, sends the value to the checking pass. Marking digits and searching for a
# run of marks is several times quicker than a regular expression over a report leaf.
_DIGIT_MARKS = bytes(ord("1") if chr(byte) in "0123456789" else ord("0") for byte in range(256))
_LONG_DIGIT_RUN = b"1" * 16


class _FloatLiteral(Exception):
    pass


def _refuse_float(_literal: str) -> float:
    raise _FloatLiteral


def _encoded_if_plain(value: object) -> bytes | None:
    """The canonical encoding of ``value`` if it is plainly canonical JSON, else None.

    Encodes, then reads the encoding back, both in C: a report leaf's thousands of values are
    checked without a Python call per value. The encoding reads back equal to ``value`` only if
    every key is a string and every container a dict or list; a float literal, a long run of
    digits, a lone surrogate or a value orjson cannot encode answers None, and `_check_json`
    decides and explains.
    """
    # orjson writes what reads back equal (str keys, dicts, lists, strings, ints, true, false,
    # null) byte for byte as `_encoded` does, escapes and key order included, over twenty times
    # quicker than json.dumps with sorted keys (a report leaf's 500 lines: 9 ms against 0.4 ms).
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    if _LONG_DIGIT_RUN in encoded.translate(_DIGIT_MARKS):
        return None
    try:
        read_back = json.loads(encoded, parse_float=_refuse_float)
    except _FloatLiteral:
        return None
    return encoded if read_back == value else None


def _check_json(value: object, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise TypeError(f"integer at {path} is outside +/-(2**53 - 1)")
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, float):
        raise TypeError(f"float at {path} is not allowed in canonical JSON")
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check_json(item, f"{path}[{position}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} at {path} is not a string")
            _check_text(key, f"{path} key {key!r}")
            _check_json(item, f"{path}.{key}")
        return
    raise TypeError(f"{type(value).__name__} at {path} is not a JSON value")


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TypeError(f"string at {path} is not valid Unicode (lone surrogate)") from error


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-27T13:20:43.000000Z``."""
    return utc(moment).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp`."""
    return datetime.strptime(text, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is refused because its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


class LogEvent(ABC):
    """Base of every event kind the attestation log records: a frozen dataclass of JSON fields."""

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
    _kinds: ClassVar[dict[tuple[str, int], type["LogEvent"]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        key = (cls.event_type, cls.event_version)
        if key in LogEvent._kinds:
            raise TypeError(f"event type {key} is already defined")
        LogEvent._kinds[key] = cls

    def fields(self) -> dict[str, JsonValue]:
        """The event's own fields as JSON values (without type and version)."""
        return {
            name: _to_json(getattr(self, name), name) for name, _kind in _field_kinds(type(self))
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild the event from its JSON fields; raises EventFormatError."""
        kinds = _field_kinds(cls)
        expect_fields(fields, {name for name, _kind in kinds})
        return cls(**{name: _from_json(fields[name], kind, name) for name, kind in kinds})

    def committed(self) -> Mapping[str, str]:
        """The commitments the leaf carries in place of private values, by field name."""
        commitments: Mapping[str, str] = getattr(self, "commitments", {})
        return commitments

    def to_json(self) -> dict[str, JsonValue]:
        """The event as a JSON object including ``type`` and ``version``."""
        return {**self.fields(), "type": self.event_type, "version": self.event_version}

    def to_leaf(self) -> bytes:
        """The log leaf: canonical JSON of :meth:`to_json`."""
        return canonical_json(self.to_json())


@cache
def _field_kinds(kind: type[LogEvent]) -> tuple[tuple[str, object], ...]:
    """Each dataclass field of an event kind with its resolved annotation."""
    annotations = get_type_hints(kind)
    return tuple((item.name, annotations[item.name]) for item in dataclasses.fields(kind))  # type: ignore[arg-type]


def _to_json(value: object, name: str) -> JsonValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, tuple | list):
        return [_to_json(item, f"{name}[]") for item in value]
    if isinstance(value, Mapping):
        return {str(key): _to_json(item, f"{name}.{key}") for key, item in value.items()}
    raise TypeError(f"{name}: a {type(value).__name__} has no JSON encoding on the log")


def _from_json(value: object, kind: object, name: str) -> object:
    """A field's value decoded by its annotation; raises EventFormatError naming the field."""
    if get_origin(kind) in (Union, types.UnionType):
        if value is None:
            return None
        (kind,) = (option for option in get_args(kind) if option is not type(None))
    if kind is bool:
        if not isinstance(value, bool):
            raise EventFormatError(f"{name} must be a boolean")
        return value
    if kind is int:
        return int_field(value, name)
    if kind is str:
        return str_field(value, name)
    if kind is datetime:
        return parse_timestamp(str_field(value, name))
    if get_origin(kind) is tuple:
        if not isinstance(value, list):
            raise EventFormatError(f"{name} must be an array")
        item_kind = get_args(kind)[0]
        return tuple(_from_json(item, item_kind, f"{name}[]") for item in value)
    if get_origin(kind) is dict:
        if not isinstance(value, dict):
            raise EventFormatError(f"{name} must be an object")
        item_kind = get_args(kind)[1]
        return {
            str(key): _from_json(item, item_kind, f"{name}.{key}") for key, item in value.items()
        }
    raise TypeError(f"{name}: no JSON decoding for {kind!r}")


def parse_event(leaf: bytes) -> LogEvent:
    """Decode a leaf into its event, checking it is the canonical encoding."""
    try:
        document = json.loads(leaf.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EventFormatError(f"leaf is not UTF-8 JSON: {error}") from error
    if not isinstance(document, dict):
        raise EventFormatError("leaf is not a JSON object")
    kind = LogEvent._kinds.get((document.get("type"), document.get("version")))  # type: ignore[arg-type]
    if kind is None:
        raise EventFormatError(
            f"unknown event type {document.get('type')!r} version {document.get('version')!r}"
        )
    fields = {k: v for k, v in document.items() if k not in ("type", "version")}
    try:
        event = kind.from_fields(fields)
    except (KeyError, TypeError, ValueError) as error:
        raise EventFormatError(f"malformed {kind.event_type} event: {error}") from error
    if event.to_leaf() != leaf:
        raise EventFormatError("leaf is not in canonical form")
    return event


def expect_fields(fields: Mapping[str, object], names: set[str]) -> None:
    """Refuse an event whose fields are not exactly `names` (no missing, no extra)."""
    if set(fields) != names:
        raise EventFormatError(f"fields must be exactly {sorted(names)}, got {sorted(fields)}")


def int_field(value: object, name: str) -> int:
    """The value as an int; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventFormatError(f"{name} must be an integer")
    return value


def str_field(value: object, name: str) -> str:
    """The value as a str."""
    if not isinstance(value, str):
        raise EventFormatError(f"{name} must be a string")
    return value


def check_commitments(value: object, names: frozenset[str]) -> dict[str, str]:
    """A leaf's ``commitments`` object: exactly ``names``, each a SHA-256 hex digest."""
    if not isinstance(value, dict):
        raise EventFormatError("commitments must be an object")
    if set(value) != names:
        raise EventFormatError(
            f"commitments must name exactly {sorted(names)}, got {sorted(value)}"
        )
    for name, digest in value.items():
        if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest):
            raise EventFormatError(f"commitment of {name} must be 64 lowercase hex characters")
    return dict(value)


# No slots: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class RegistrationEvent(LogEvent):
    """A work registered by its owner, identified by content digest and fingerprints.

    A public work's digest and fingerprints are in the clear: its image is served to anyone,
    who could compute them anyway, and anyone finding a copy can check its priority against
    the log without asking the owner. A private work's leaf carries only commitments to them
    (``PRIVATE_FIELDS``); the owner's certificate opens them.
    """

    event_type: ClassVar[str] = "registration"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"sha256", "fingerprints"})

    work_id: int
    owner_id: int
    sha256: str | None
    fingerprints: dict[str, str] | None = field(hash=False)
    registered_at: datetime
    commitments: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.commitments:
            check_commitments(self.commitments, self.PRIVATE_FIELDS)
            if self.sha256 is not None or self.fingerprints is not None:
                raise ValueError(
                    "a private work's leaf commits to its digests, it does not show them"
                )
        else:
            if self.sha256 is None or not SHA256_HEX.fullmatch(self.sha256):
                raise ValueError("sha256 must be 64 lowercase hex characters")
            if self.fingerprints is None or any(
                not isinstance(v, str) for v in self.fingerprints.values()
            ):
                raise ValueError("fingerprint values must be strings")
            object.__setattr__(self, "fingerprints", dict(self.fingerprints))
        object.__setattr__(self, "commitments", dict(self.commitments))
        object.__setattr__(self, "registered_at", utc(self.registered_at))

    @property
    def private(self) -> bool:
        """Whether the leaf commits to the work's digests instead of showing them."""
        return bool(self.commitments)
