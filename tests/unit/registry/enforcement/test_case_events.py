"""The case step leaf: one canonical encoding, parsed back to the same event, malformed refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.enforcement.events import CaseStepEvent
from registry.log.events import EventFormatError, parse_event

STEP = CaseStepEvent(
    case_id=3,
    owner_id=1,
    action="notice_sent",
    from_state="open",
    to_state="notice_sent",
    alert_ids=(7, 9),
    document_sha256="ab" * 32,
    at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
)


def test_the_leaf_is_canonical_json() -> None:
    assert STEP.to_leaf() == (
        b'{"action":"notice_sent","alert_ids":[7,9],"at":"2026-11-30T12:00:00.000000Z",'
        b'"case_id":3,"document_sha256":"' + b"ab" * 32 + b'","from_state":"open",'
        b'"owner_id":1,"to_state":"notice_sent","type":"case_step","version":1}'
    )
    assert parse_event(STEP.to_leaf()) == STEP


def test_an_opening_step_has_no_previous_state_and_no_document() -> None:
    opening = CaseStepEvent(3, 1, "opened", None, "open", (7,), None, STEP.at)
    assert parse_event(opening.to_leaf()) == opening


@pytest.mark.parametrize(
    "leaf",
    [
        STEP.to_leaf().replace(b'"case_id":3,', b""),
        STEP.to_leaf().replace(b"[7,9]", b'"7,9"'),
        STEP.to_leaf().replace(b'"ab', b'"AB'),
        STEP.to_leaf().replace(b'"case_id":3', b'"case_id":true'),
    ],
)
def test_malformed_steps_are_refused(leaf: bytes) -> None:
    with pytest.raises(EventFormatError):
        parse_event(leaf)
