"""A contract version's terms never change once it leaves draft; grants and reports are only added.

A version becomes active when every party has consented; the version it replaces becomes
superseded. Grants and sales reports keep the exact execution (allocation lines) the engine
produced, with the contract version it ran under, so a statement can always be re-derived.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, event, inspect, text
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

import registry.enforcement.models  # noqa: F401 - registers `cases`, which a grant may settle
from licensing.errors import FrozenVersionError
from licensing.wording import in_words
from registry.messages import N_
from registry.models import UTCDateTime, utcnow


class VersionStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUPERSEDED = "superseded"


class OfferStatus(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class GrantStatus(StrEnum):
    """Where a grant stands; only an active grant licenses anything.

    An open offer is the "offered" state. Taking a wholesale or buyout offer makes a grant that
    waits for payment until its `expires_at`; payment makes it active, the deadline passing makes
    it expired, the licensee withdrawing makes it cancelled, a refund makes it refunded. Retail
    grants pay nothing up front and are active at once.
    """

    PENDING_PAYMENT = "pending_payment"
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


LIVE_GRANT_STATUSES = (GrantStatus.PENDING_PAYMENT, GrantStatus.ACTIVE)


class LicenseContract(SQLModel, table=True):
    """A contract attached to one work; its terms live in its versions."""

    __tablename__ = "license_contracts"

    id: int | None = Field(default=None, primary_key=True)
    contract_key: str = Field(unique=True, max_length=128)
    work_id: int = Field(foreign_key="works.id", index=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ContractVersion(SQLModel, table=True):
    """One version of a contract: the validated document, frozen once it leaves draft."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="license_contracts.id", index=True)
    version: int
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    document_sha256: str = Field(max_length=64)
    status: VersionStatus = VersionStatus.DRAFT
    proposed_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContractConsent(SQLModel, table=True):
    """A party's consent to a contract version, given by the account the party names."""

    __tablename__ = "contract_consents"
    __table_args__ = (UniqueConstraint("version_id", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="contract_versions.id", index=True)
    party_id: str = Field(max_length=128)
    user_id: int = Field(foreign_key="users.id")
    consented_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Openings of the leaf's commitments (the party id): the log names no party in the clear.
    log_openings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ContractDecline(SQLModel, table=True):
    """A party's refusal of a draft version: it can no longer become active, and the owner,
    told why, proposes another version."""

    __tablename__ = "contract_declines"
    __table_args__ = (UniqueConstraint("version_id", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="contract_versions.id", index=True)
    party_id: str = Field(max_length=128)
    user_id: int = Field(foreign_key="users.id")
    reason: str = Field(default="", max_length=2000)
    declined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LicenseOffer(SQLModel, table=True):
    """A sale type a rights holder offers on a work under its active contract."""

    __tablename__ = "license_offers"
    # The marketplace filters open offers by type, price and AI-training flag, per work.
    __table_args__ = (
        Index("ix_license_offers_market", "status", "sale_type", "price_milli", "work_id"),
        Index("ix_license_offers_work_status", "work_id", "status", "price_milli"),
    )

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    contract_id: int = Field(foreign_key="license_contracts.id")
    sale_type: str = Field(max_length=16)
    package: str | None = Field(default=None, max_length=128)
    status: OfferStatus = OfferStatus.OPEN
    created_by: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The terms the marketplace filters on, copied from the active contract (`licensing.terms`):
    # the up-front price (per unit for volume wholesale; none for retail), also in thousandths
    # of the major unit so prices compare across currencies' decimals.
    price_minor: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    price_milli: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    ai_training: str | None = Field(default=None, max_length=32)


# A pending buyout reserves the work as an active one holds it; expired or cancelled ones do not.
_LIVE_BUYOUT = text("sale_type = 'buyout' AND status IN ('PENDING_PAYMENT', 'ACTIVE')")


class LicenseGrant(SQLModel, table=True):
    """A license a brand took under an offer, with the split of what it pays up front."""

    __tablename__ = "license_grants"
    # The database itself refuses a second live buyout of a work, whatever races the service loses.
    __table_args__ = (
        Index(
            "uq_license_grants_one_live_buyout_per_work",
            "work_id",
            unique=True,
            sqlite_where=_LIVE_BUYOUT,
            postgresql_where=_LIVE_BUYOUT,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    offer_id: int = Field(foreign_key="license_offers.id", index=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    # None for a retroactive licence: its licensee is the site its case named, who needs no account.
    licensee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # A retroactive licence settles this case and licenses the use on `licensed_domain`.
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    licensed_domain: str | None = Field(default=None, max_length=253)
    contract_version_id: int = Field(foreign_key="contract_versions.id")
    sale_type: str = Field(max_length=16)
    gross_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    execution: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: GrantStatus = GrantStatus.PENDING_PAYMENT
    log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Openings of the leaf's commitments (price, split, licensee domain), for the parties only.
    log_openings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Unpaid past this instant, a pending grant expires and its reservation ends.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The leaf that made the grant active (the grant's own for retail, the settled payment's
    # otherwise): the grant's certificate proves this leaf.
    activation_log_index: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )


class SalesReport(SQLModel, table=True):
    """One line of a retail sales report under a retail grant, with the royalty split it produced.

    The licensee names each report (`report_key`); a correction is a new report whose
    `corrects_report_key` names the report it replaces, which then no longer counts.
    """

    __tablename__ = "sales_reports"
    __table_args__ = (
        UniqueConstraint(
            "grant_id", "report_key", "line_number", name="uq_sales_reports_grant_report_line"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Found by the unique index above, which begins with it (no index of its own to maintain).
    grant_id: int = Field(foreign_key="license_grants.id")
    report_key: str = Field(max_length=128)
    line_number: int
    corrects_report_key: str | None = Field(default=None, max_length=128)
    contract_version_id: int = Field(foreign_key="contract_versions.id")
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_revenue_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    channel: str | None = Field(default=None, max_length=128)
    territory: str | None = Field(default=None, max_length=2)
    gross_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    recouped_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    execution: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Openings of the leaf's commitments (units, revenue, split, report ids), for the parties only.
    # A report leaf's are large; PostgreSQL compresses them with lz4 (migration 0031).
    log_openings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SalesReportTotals(SQLModel, table=True):
    """What one sales report's lines add up to, written with its lines.

    The next report's tiers, caps and recoupment count from the totals of the reports still
    counted; summing these rows instead of every line keeps a report's cost flat however many
    lines its grant has.
    """

    __tablename__ = "sales_report_totals"
    __table_args__ = (
        UniqueConstraint("grant_id", "report_key", name="uq_sales_report_totals_grant_report"),
    )

    id: int | None = Field(default=None, primary_key=True)
    grant_id: int = Field(foreign_key="license_grants.id", index=True)
    report_key: str = Field(max_length=128)
    corrects_report_key: str | None = Field(default=None, max_length=128)
    lines: int
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_revenue_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    gross_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    recouped_minor: int = Field(sa_column=Column(BigInteger, nullable=False))


_FROZEN_FIELDS = ("document", "document_sha256", "version", "contract_id")


@event.listens_for(ContractVersion, "before_update")
def _refuse_changes_to_frozen_versions(
    _mapper: Mapper[Any], _connection: Any, target: ContractVersion
) -> None:
    state = inspect(target)
    status_history = state.attrs.status.history
    was_draft = (status_history.deleted or [target.status])[0] == VersionStatus.DRAFT
    if was_draft:
        return
    for name in _FROZEN_FIELDS:
        if state.attrs[name].history.has_changes():
            raise FrozenVersionError(
                N_("contract version %(version)s is %(status)s: its %(field)s cannot change"),
                version=str(target.id),
                status=in_words(target.status),
                field=name,
            )
