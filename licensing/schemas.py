"""Licensing request and response bodies; writes refuse unknown fields and non-integer amounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from licensing.models import GrantStatus, OfferStatus, VersionStatus
from licensing.money import MinorAmount, Quantity

_Write = ConfigDict(extra="forbid")

ReportId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ConsentCreate(BaseModel):
    model_config = _Write

    party_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ContractVersionPublic(BaseModel):
    id: int
    work_id: int
    contract_id: str
    version: int
    status: VersionStatus
    document_sha256: str
    document: dict[str, Any]
    consented_parties: list[str]
    activated_at: datetime | None


class OfferCreate(BaseModel):
    model_config = _Write

    sale_type: Literal["retail", "wholesale", "buyout"]
    package: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class OfferPublic(BaseModel):
    id: int
    work_id: int
    sale_type: str
    package: str | None
    status: OfferStatus
    created_at: datetime


class GrantCreate(BaseModel):
    model_config = _Write

    units: Quantity = 0


class AllocationPublic(BaseModel):
    party: str
    amount_minor: int
    rule: str


class GrantPublic(BaseModel):
    id: int
    offer_id: int
    work_id: int
    licensee_id: int | None
    sale_type: str
    status: GrantStatus
    gross_minor: int
    currency: str
    allocations: list[AllocationPublic]
    log_index: int | None
    activation_log_index: int | None
    certificate_url: str
    granted_at: datetime
    expires_at: datetime | None
    activated_at: datetime | None


class SalesLineCreate(BaseModel):
    model_config = _Write

    units: Quantity
    net_revenue_minor: MinorAmount
    channel: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    territory: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class SalesReportCreate(BaseModel):
    """A retail sales report; `corrects` names the report this one replaces."""

    model_config = _Write

    report_id: ReportId
    currency: Currency
    corrects: ReportId | None = None
    lines: Annotated[list[SalesLineCreate], Field(min_length=1)]


class SalesLinePublic(BaseModel):
    line_number: int
    units: int
    net_revenue_minor: int
    channel: str | None
    territory: str | None
    royalty_minor: int
    allocations: list[AllocationPublic]
    log_index: int | None
    certificate_url: str = Field(
        description="the line's split certificate, opening its figures for the grant's parties"
    )


class OwedPublic(BaseModel):
    party: str
    amount_minor: int


class SalesReportPublic(BaseModel):
    """A stored report: `owed` is what it adds to each party (the change, for a correction)."""

    grant_id: int
    report_id: str
    corrects: str | None
    replayed: bool
    currency: str
    royalties_minor: int
    owed: list[OwedPublic]
    lines: list[SalesLinePublic]


class LicenseProof(BaseModel):
    grant_id: int
    sale_type: str
    status: GrantStatus
    granted_at: datetime
    certificate_url: str


class LicenseCheck(BaseModel):
    work_id: int
    domain: str
    licensed: bool
    grants: list[LicenseProof]


class RetroactiveLicenceCreate(BaseModel):
    """Offer a case's site a licence; without `price_minor` (in the contract's currency) the
    price is the work's cheapest open wholesale offer."""

    model_config = _Write

    price_minor: MinorAmount | None = None


class RetroactiveLicencePublic(BaseModel):
    case_id: int
    grant_id: int
    work_id: int
    licensed_domain: str
    status: GrantStatus
    price_minor: int
    currency: str
    allocations: list[AllocationPublic]
    log_index: int | None
    activation_log_index: int | None
    valid_until: datetime | None
    certificate_url: str
