"""Case tables: a case, the alerts it enforces, its timeline, and the rights holder's legal profile.

Invariant: the timeline is append-only and every row of it is a log leaf (`log_index`), written
in the same transaction as the state it records; `uq_case_alerts_alert` keeps an alert in one
case at most, so one copy is never enforced twice in parallel.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import JSON, BigInteger, Column, Enum, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import registry.monitoring.models  # noqa: F401 - registers `alerts`, which a case enforces
from registry.messages import N_, Message
from registry.models import UTCDateTime, utcnow

# The largest id an integer primary key holds (PostgreSQL `integer`).
MAX_ROW_ID: Final = 2**31 - 1


class CaseState(StrEnum):
    OPEN = "open"
    NOTICE_SENT = "notice_sent"
    RESOLVED_REMOVED = "resolved_removed"
    RESOLVED_LICENSED = "resolved_licensed"
    COUNTER_NOTICED = "counter_noticed"
    REINSTATED = "reinstated"
    ESCALATED = "escalated"
    CLOSED = "closed"

    def in_words(self) -> Message:
        """The state as a word the catalogs translate ("notice sent"), to go inside a sentence."""
        return Message(_CASE_STATE_WORDS[self])


_CASE_STATE_WORDS: Final[dict[CaseState, str]] = {
    CaseState.OPEN: N_("open"),
    CaseState.NOTICE_SENT: N_("notice sent"),
    CaseState.RESOLVED_REMOVED: N_("resolved removed"),
    CaseState.RESOLVED_LICENSED: N_("resolved licensed"),
    CaseState.COUNTER_NOTICED: N_("counter noticed"),
    CaseState.REINSTATED: N_("reinstated"),
    CaseState.ESCALATED: N_("escalated"),
    CaseState.CLOSED: N_("closed"),
}


class NoticeForm(StrEnum):
    DMCA = "dmca"
    CN_PLATFORM = "cn_platform"


class DeadlineKind(StrEnum):
    REPLY = "reply"
    REINSTATEMENT = "reinstatement"


def _values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


def _enum_column(kind: type[StrEnum], *, nullable: bool = False) -> Any:
    # Stored as the values in a plain string column: no database enum type to migrate.
    return Column(
        Enum(kind, native_enum=False, length=20, values_callable=_values), nullable=nullable
    )


class Case(SQLModel, table=True):
    """Enforcement against one site of one owner's confirmed copies."""

    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    domain: str = Field(max_length=253, index=True)
    state: CaseState = Field(default=CaseState.OPEN, sa_column=_enum_column(CaseState))
    # The response link's token is HMAC(key, id, nonce): nothing stored here opens the page.
    response_nonce: str = Field(max_length=64)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notice_form: NoticeForm | None = Field(
        default=None, sa_column=_enum_column(NoticeForm, nullable=True)
    )
    notices_sent: int = 0
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    deadline_kind: DeadlineKind | None = Field(
        default=None, sa_column=_enum_column(DeadlineKind, nullable=True)
    )
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_notice_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseAlert(SQLModel, table=True):
    """One alert enforced by a case."""

    __tablename__ = "case_alerts"
    __table_args__ = (UniqueConstraint("alert_id", name="uq_case_alerts_alert"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    alert_id: int = Field(foreign_key="alerts.id")


class CaseEvent(SQLModel, table=True):
    """A step on a case's timeline with the document it produced and that document's log leaf."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    action: str = Field(max_length=30)
    from_state: CaseState | None = Field(
        default=None, sa_column=_enum_column(CaseState, nullable=True)
    )
    to_state: CaseState = Field(sa_column=_enum_column(CaseState))
    actor: str = Field(max_length=20)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    document: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    document_sha256: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    log_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LegalProfile(SQLModel, table=True):
    """Who signs a notice: the legal name, postal address and contact a notice must state."""

    __tablename__ = "legal_profiles"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    legal_name: str = Field(max_length=200)
    postal_address: str = Field(max_length=1000)
    contact_email: str = Field(max_length=320)
    phone: str = Field(default="", max_length=50)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DisputeStatus(StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"

    def in_words(self) -> Message:
        """The status as a word the catalogs translate, to go inside a sentence."""
        return Message(_DISPUTE_STATUS_WORDS[self])


_DISPUTE_STATUS_WORDS: Final[dict[DisputeStatus, str]] = {
    DisputeStatus.OPEN: N_("open"),
    DisputeStatus.UPHELD: N_("upheld"),
    DisputeStatus.REJECTED: N_("rejected"),
}


class OwnershipDispute(SQLModel, table=True):
    """A registered owner's claim that another's registration of the same work is theirs.

    While open, the disputed work's royalties are held (settlement) and its offers take no new
    grants (licensing). Upheld, the held money goes to the claimant; rejected, to the parties.
    """

    __tablename__ = "ownership_disputes"

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    earlier_work_id: int = Field(foreign_key="works.id")
    claimant_id: int = Field(foreign_key="users.id", index=True)
    respondent_id: int = Field(foreign_key="users.id", index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    status: DisputeStatus = Field(default=DisputeStatus.OPEN, sa_column=_enum_column(DisputeStatus))
    opened_log_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    outcome_log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
