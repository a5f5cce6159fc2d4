"""The case and dispute log events: one leaf per step, binding it to its document's digest.

Importing this module registers the event kind with ``parse_event``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from registry.log.events import (
    SHA256_HEX,
    LogEvent,
    utc,
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


@dataclass(frozen=True)
class DisputeStepEvent(LogEvent):
    """An ownership dispute opened, upheld or rejected, with the SHA-256 of its stated reason."""

    event_type: ClassVar[str] = "ownership_dispute"
    event_version: ClassVar[int] = 1

    dispute_id: int
    work_id: int
    earlier_work_id: int
    claimant_id: int
    action: str
    reason_sha256: str
    at: datetime

    def __post_init__(self) -> None:
        if not SHA256_HEX.fullmatch(self.reason_sha256):
            raise ValueError("reason_sha256 must be 64 lowercase hex characters")
        object.__setattr__(self, "at", utc(self.at))
