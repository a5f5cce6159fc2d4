"""The evidence event's canonical leaf, and its refusal of malformed fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.log.events import EventFormatError, parse_event
from registry.monitoring.events import EvidenceEvent

COMMITMENTS = {"page_url": "e" * 64, "image_url": "f" * 64}


def event() -> EvidenceEvent:
    return EvidenceEvent(
        alert_id=1,
        work_id=2,
        manifest_sha256="c" * 64,
        image_sha256="d" * 64,
        commitments=COMMITMENTS,
        captured_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_the_leaf_parses_back_to_the_event() -> None:
    assert parse_event(event().to_leaf()) == event()


def test_the_leaf_is_canonical_json() -> None:
    assert (
        event().to_leaf().startswith(b'{"alert_id":1,"captured_at":"2026-01-02T03:04:05.000000Z"')
    )


def test_a_leaf_with_a_missing_field_is_refused() -> None:
    leaf = event().to_leaf().replace(b',"work_id":2', b"")
    with pytest.raises(EventFormatError):
        parse_event(leaf)


def test_a_digest_that_is_not_hex_is_refused() -> None:
    with pytest.raises(ValueError, match="manifest_sha256"):
        EvidenceEvent(1, 2, "Z" * 64, "d" * 64, COMMITMENTS, datetime.now(UTC))


def test_a_leaf_showing_an_address_instead_of_committing_to_it_is_refused() -> None:
    leaf = event().to_leaf().replace(b'"image_url":', b'"image-url":')
    with pytest.raises(EventFormatError, match="commitments"):
        parse_event(leaf)
