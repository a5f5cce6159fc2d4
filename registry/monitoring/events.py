"""The evidence log event: one leaf per alert, binding the evidence manifest's digest to the work.

The addresses where the copy was found are committed, not shown: a page address can name a
person (a profile, a personal site), and the leaf can never be erased. The manifest's digest
binds them already; the bundle's certificate opens the commitments for whoever holds it.
Importing this module registers the event kind with ``parse_event``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Self

from registry.log.events import (
    SHA256_HEX,
    JsonValue,
    LogEvent,
    check_commitments,
    expect_fields,
    format_timestamp,
    int_field,
    parse_timestamp,
    str_field,
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

    def committed(self) -> Mapping[str, str]:
        """Commitments to the page and image addresses."""
        return self.commitments

    def fields(self) -> dict[str, JsonValue]:
        """JSON fields of the capture."""
        return {
            "alert_id": self.alert_id,
            "work_id": self.work_id,
            "manifest_sha256": self.manifest_sha256,
            "image_sha256": self.image_sha256,
            "commitments": dict(self.commitments),
            "captured_at": format_timestamp(self.captured_at),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Self:
        """Rebuild from JSON fields."""
        expect_fields(
            fields,
            {
                "alert_id",
                "work_id",
                "manifest_sha256",
                "image_sha256",
                "commitments",
                "captured_at",
            },
        )
        return cls(
            alert_id=int_field(fields["alert_id"], "alert_id"),
            work_id=int_field(fields["work_id"], "work_id"),
            manifest_sha256=str_field(fields["manifest_sha256"], "manifest_sha256"),
            image_sha256=str_field(fields["image_sha256"], "image_sha256"),
            commitments=check_commitments(fields["commitments"], cls.PRIVATE_FIELDS),
            captured_at=parse_timestamp(str_field(fields["captured_at"], "captured_at")),
        )
