"""The case log event: one leaf per step of a case, binding the step to its document's digest.

Importing this module registers the event kind with ``parse_event``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Self

from registry.log.events import (
    SHA256_HEX,
    EventFormatError,
    JsonValue,
    LogEvent,
    expect_fields,
    format_timestamp,
    int_field,
    parse_timestamp,
    str_field,
    utc,
)

_NAMES = frozenset(
    {
        "case_id",
        "owner_id",
        "action",
        "from_state",
        "to_state",
        "alert_ids",
        "document_sha256",
        "at",
    }
)


# No slots: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class CaseStepEvent(LogEvent):
    """A case moved from one state to another (or was opened), with its document's SHA-256."""

    event_type: ClassVar[str] = "case_step"
    event_version: ClassVar[int] = 1

    case_id: int
    owner_id: int
    action: str
    from_state: str | None
    to_state: str
    alert_ids: tuple[int, ...] = field(hash=False)
    document_sha256: str | None
    at: datetime

    def __post_init__(self) -> None:
        if self.document_sha256 is not None and not SHA256_HEX.fullmatch(self.document_sha256):
            raise ValueError("document_sha256 must be 64 lowercase hex characters")
        object.__setattr__(self, "alert_ids", tuple(self.alert_ids))
        object.__setattr__(self, "at", utc(self.at))

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the step."""
        return {
            "case_id": self.case_id,
            "owner_id": self.owner_id,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "alert_ids": list(self.alert_ids),
            "document_sha256": self.document_sha256,
            "at": format_timestamp(self.at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(fields, set(_NAMES))
        alert_ids = fields["alert_ids"]
        if not isinstance(alert_ids, list):
            raise EventFormatError("alert_ids must be an array")
        from_state = fields["from_state"]
        digest = fields["document_sha256"]
        return cls(
            case_id=int_field(fields["case_id"], "case_id"),
            owner_id=int_field(fields["owner_id"], "owner_id"),
            action=str_field(fields["action"], "action"),
            from_state=None if from_state is None else str_field(from_state, "from_state"),
            to_state=str_field(fields["to_state"], "to_state"),
            alert_ids=tuple(int_field(item, "alert_ids[]") for item in alert_ids),
            document_sha256=None if digest is None else str_field(digest, "document_sha256"),
            at=parse_timestamp(str_field(fields["at"], "at")),
        )
