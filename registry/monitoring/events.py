"""The evidence log event: one leaf per evidence bundle, binding its manifest's digest to the work.

An alert has one leaf for the bundle its crawl recorded, and a second once the `evidence` task
completed that bundle with the page's screenshot.

The addresses where the copy was found are committed, not shown: a page address can name a
person (a profile, a personal site), and the leaf can never be erased. The manifest's digest
binds them already; the bundle's certificate opens the commitments for whoever holds it.
Importing this module registers the event kind with ``parse_event``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from registry.log.events import (
    SHA256_HEX,
    LogEvent,
    check_commitments,
    utc,
)


# No slots: a slotted dataclass is a second class object and would register twice.
@dataclass(frozen=True)
class EvidenceEvent(LogEvent):
    """Evidence of a copy of a work captured at a time; the manifest lists every file's digest."""

    event_type: ClassVar[str] = "evidence"
    event_version: ClassVar[int] = 2
    PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"page_url", "image_url"})

    alert_id: int
    work_id: int
    manifest_sha256: str
    image_sha256: str
    commitments: dict[str, str] = field(hash=False)
    captured_at: datetime

    def __post_init__(self) -> None:
        for name in ("manifest_sha256", "image_sha256"):
            if not SHA256_HEX.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} must be 64 lowercase hex characters")
        object.__setattr__(
            self, "commitments", check_commitments(self.commitments, self.PRIVATE_FIELDS)
        )
        object.__setattr__(self, "captured_at", utc(self.captured_at))
