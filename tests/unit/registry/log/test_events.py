"""Canonical JSON and the typed events that become log leaves."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.log.events import (
    EventFormatError,
    RegistrationEvent,
    _check_json,
    _encoded_if_plain,
    canonical_json,
    parse_event,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": None, "c": True}], "a": "é"}) == (
        '{"a":"é","b":[1,{"c":true,"d":null}]}'.encode()
    )


@given(json_values)
def test_canonical_json_round_trips_and_is_stable(value: object) -> None:
    encoded = canonical_json(value)
    assert canonical_json(json.loads(encoded)) == encoded


@given(st.dictionaries(st.text(max_size=5), st.integers(-1000, 1000), min_size=2, max_size=6))
def test_canonical_json_ignores_insertion_order(value: dict[str, int]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (1.5, r"\$"),
        ({"a": [1, float("nan")]}, r"\$\.a\[1\]"),
        ({"a": {"b": float("inf")}}, r"\$\.a\.b"),
        ({"a": {1: "x"}}, r"key 1 at \$\.a"),
        ({"a": 2**53}, r"\$\.a"),
        ({"a": b"bytes"}, r"bytes at \$\.a"),
        (["\ud800"], r"\$\[0\]"),
    ],
)
def test_canonical_json_refuses_non_canonical_values_naming_the_path(
    value: object, path: str
) -> None:
    with pytest.raises(TypeError, match=path):
        canonical_json(value)


def registration(**changes: object) -> RegistrationEvent:
    fields: dict[str, object] = {
        "work_id": 42,
        "owner_id": 7,
        "sha256": "ab" * 32,
        "fingerprints": {"phash": "8f373714acfcf4d0", "pdq": "00ff"},
        "registered_at": datetime(2026, 11, 27, 13, 20, 43, 5, tzinfo=UTC),
    }
    return RegistrationEvent(**{**fields, **changes})  # type: ignore[arg-type]


def test_registration_leaf_is_canonical_json_with_type_and_version() -> None:
    document = json.loads(registration().to_leaf())
    assert document == {
        "type": "registration",
        "version": 2,
        "work_id": 42,
        "owner_id": 7,
        "sha256": "ab" * 32,
        "fingerprints": {"phash": "8f373714acfcf4d0", "pdq": "00ff"},
        "commitments": {},
        "registered_at": "2026-11-27T13:20:43.000005Z",
    }
    assert canonical_json(document) == registration().to_leaf()


def test_a_private_registration_leaf_shows_commitments_not_digests() -> None:
    commitments = {"sha256": "cd" * 32, "fingerprints": "ef" * 32}
    private = registration(sha256=None, fingerprints=None, commitments=commitments)
    document = json.loads(private.to_leaf())
    assert (document["sha256"], document["fingerprints"]) == (None, None)
    assert document["commitments"] == commitments
    assert parse_event(private.to_leaf()) == private
    assert private.committed() == commitments


@pytest.mark.parametrize(
    "changes",
    [
        {"commitments": {"sha256": "cd" * 32, "fingerprints": "ef" * 32}},
        {"sha256": None, "fingerprints": None, "commitments": {"sha256": "cd" * 32}},
        {"sha256": None, "fingerprints": None, "commitments": {"sha256": "x", "fingerprints": ""}},
        {"sha256": None, "fingerprints": None},
    ],
)
def test_a_registration_both_showing_and_committing_or_neither_is_refused(
    changes: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match=r"commit|sha256"):
        registration(**changes)


def test_registration_time_is_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    local = registration(registered_at=datetime(2026, 11, 27, 14, 20, 43, 5, tzinfo=paris))
    assert local.to_leaf() == registration().to_leaf()


def test_naive_registration_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        registration(registered_at=datetime(2026, 1, 1))


def test_malformed_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="sha256"):
        registration(sha256="AB" * 32)


def test_leaf_parses_back_to_the_same_event() -> None:
    assert parse_event(registration().to_leaf()) == registration()


@pytest.mark.parametrize(
    ("leaf", "reason"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"type":"unknown","version":1}', "unknown event type"),
        (b'{"type":"registration","version":1}', "unknown event type"),
        (b'{"type":"registration","version":2,"work_id":1}', "fields must be exactly"),
    ],
)
def test_malformed_leaves_are_refused(leaf: bytes, reason: str) -> None:
    with pytest.raises(EventFormatError, match=reason):
        parse_event(leaf)


def test_non_canonical_spelling_of_an_event_is_refused() -> None:
    spaced = json.dumps(json.loads(registration().to_leaf()), indent=1).encode()
    with pytest.raises(EventFormatError, match="canonical"):
        parse_event(spaced)


def test_an_event_type_cannot_be_defined_twice() -> None:
    with pytest.raises(TypeError, match="already defined"):

        class Duplicate(RegistrationEvent):
            pass


_ANY_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True)
    | st.text()
    | st.sampled_from(["\ud800", "a\udfffb"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["\ud800"]) | st.integers(0, 2) | st.none(),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(_ANY_VALUE)
def test_the_quick_pass_accepts_exactly_what_the_checking_pass_accepts(value: object) -> None:
    try:
        _check_json(value, "$")
    except TypeError as refused:
        assert _encoded_if_plain(value) is None
        with pytest.raises(TypeError, match=re.escape(str(refused))):
            canonical_json(value)
    else:
        expected = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        assert canonical_json(value) == expected
        assert _encoded_if_plain(value) in (None, expected)


def test_the_quick_pass_writes_every_character_as_the_standard_library_does() -> None:
    characters = [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    # Every character escaped (or not) alike, and keys ordered alike across the planes.
    value = {"".join(characters): None, **dict.fromkeys(characters[::97], 0)}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert _encoded_if_plain(value) == expected.encode("utf-8")
