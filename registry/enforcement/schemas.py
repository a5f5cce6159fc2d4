"""Request and response models of enforcement; write models refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.bounds import RecordId
from registry.enforcement.models import (
    MAX_ROW_ID,
    CaseState,
    DeadlineKind,
    DisputeStatus,
    NoticeForm,
)

MAX_RECIPIENTS = 5


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(
        min_length=1, max_length=100
    )


class CaseTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: CaseState
    note: str = Field(default="", max_length=2000)


class NoticeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    form: NoticeForm = NoticeForm.DMCA
    resend: bool = False


class CounterNoticeSubmission(BaseModel):
    """The elements of a counter-notification, 17 U.S.C. 512(g)(3)(A)-(D)."""

    model_config = ConfigDict(extra="forbid")

    material: str = Field(min_length=1, max_length=5000)
    good_faith_statement: bool
    jurisdiction_consent: bool
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=1000)
    email: str = Field(min_length=3, max_length=320)
    phone: str = Field(default="", max_length=50)
    signature: str = Field(min_length=1, max_length=200)


class LicenceClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    statement: str = Field(default="", max_length=2000)


class LegalProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    legal_name: str = Field(min_length=1, max_length=200)
    postal_address: str = Field(min_length=1, max_length=1000)
    contact_email: str = Field(min_length=3, max_length=320)
    phone: str = Field(default="", max_length=50)


class LegalProfilePublic(BaseModel):
    legal_name: str
    postal_address: str
    contact_email: str
    phone: str
    updated_at: datetime


class CaseEventPublic(BaseModel):
    id: int
    action: str
    from_state: CaseState | None
    to_state: CaseState
    actor: str
    note: str
    document_sha256: str | None
    details: dict[str, Any]
    log_index: int
    created_at: datetime


class CasePublic(BaseModel):
    id: int
    domain: str
    state: CaseState
    alert_ids: list[int]
    recipients: list[str]
    notice_form: NoticeForm | None
    notices_sent: int
    deadline_at: datetime | None
    deadline_kind: DeadlineKind | None
    created_at: datetime
    first_notice_at: datetime | None
    resolved_at: datetime | None
    next_states: list[CaseState]


class CaseDetail(CasePublic):
    events: list[CaseEventPublic]


class ContactPublic(BaseModel):
    address: str
    source: str


class ContactSearchPublic(BaseModel):
    contacts: list[ContactPublic]
    problems: list[str]


class CaseAnswerPublic(BaseModel):
    """What the accused party learns after answering: the case and the state it is now in."""

    case_id: int
    state: CaseState


class CaseMonthPublic(BaseModel):
    month: str = Field(description="YYYY-MM, in UTC")
    opened: int
    resolved: int


class CaseReportPublic(BaseModel):
    cases: int
    by_state: dict[CaseState, int]
    removed: int
    median_days_to_removal: float | None
    by_month: list[CaseMonthPublic]


class DisputeCreate(BaseModel):
    """Dispute another owner's registration of a work you registered earlier."""

    model_config = ConfigDict(extra="forbid")

    work_id: RecordId
    earlier_work_id: RecordId
    reason: str = Field(min_length=1, max_length=5000)


class DisputeDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["upheld", "rejected"]
    reason: str = Field(default="", max_length=5000)


class DisputePublic(BaseModel):
    id: int
    work_id: int
    earlier_work_id: int
    claimant_id: int
    respondent_id: int
    reason: str
    status: DisputeStatus
    opened_log_index: int
    outcome_log_index: int | None
    opened_at: datetime
    resolved_at: datetime | None
