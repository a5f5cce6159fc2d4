"""One alert per (work, copied image): every further page or re-crawl that shows it is a sighting.

A copied image is identified by the SHA-256 of its bytes; `uq_alerts_work_image` makes a second
alert for the same work and image impossible, and `uq_sightings_once` makes a resumed crawl that
sees the same page again add nothing. An alert row and its evidence log leaf are written in one
transaction, so an alert without its leaf (or a leaf without its alert) never commits.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Enum,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from registry.messages import N_, Message
from registry.models import UTCDateTime, utcnow
from registry.roles import Role

# The bounds of a crawl job and a watch, checked by the service and declared by the schemas.
MAX_SEEDS: Final = 100
MAX_PAGES_LIMIT: Final = 100_000
MIN_WATCH_INTERVAL_S: Final = 3600
MAX_WATCH_INTERVAL_S: Final = 366 * 24 * 3600
# Crawls reach out to the web on the account's behalf, so only these roles may start them.
MONITORING_ROLES: Final = frozenset({Role.RIGHTS_HOLDER, Role.ADMIN})


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class AlertStatus(StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    LICENSED = "licensed"
    TAKEDOWN_SENT = "takedown_sent"
    RESOLVED = "resolved"

    def in_words(self) -> Message:
        """The status as a word the catalogs translate ("takedown sent"), to go in a sentence."""
        return Message(_ALERT_STATUS_WORDS[self])


_ALERT_STATUS_WORDS: Final[dict[AlertStatus, str]] = {
    AlertStatus.NEW: N_("new"),
    AlertStatus.CONFIRMED: N_("confirmed"),
    AlertStatus.DISMISSED: N_("dismissed"),
    AlertStatus.LICENSED: N_("licensed"),
    AlertStatus.TAKEDOWN_SENT: N_("takedown sent"),
    AlertStatus.RESOLVED: N_("resolved"),
}


class ScreenshotStatus(StrEnum):
    """Where an alert's screenshot of the page stands; the `evidence` task moves it on once."""

    PENDING = "pending"  # the alert's bundle is the crawl's first, the task has not run yet
    TAKEN = "taken"  # the alert points at the complete bundle, screenshot.png in it
    NOT_TAKEN = "not_taken"  # the capture failed: the first bundle stays, `screenshot_reason` why


def _status_column(kind: type[StrEnum], default: StrEnum) -> Any:
    # Stored as the values in a plain string column: no database enum type to migrate.
    return Field(
        default=default,
        sa_column=Column(
            Enum(kind, native_enum=False, length=20, values_callable=_values),
            nullable=False,
        ),
    )


def _values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


class CrawlJob(SQLModel, table=True):
    """A crawl: its seeds and limits, and counters kept up to date while it runs.

    A job with an owner matches only that owner's works; a job without one (started by the
    operator from the command line) matches every registered work.
    """

    __tablename__ = "crawl_jobs"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    watch_id: int | None = Field(default=None, foreign_key="crawl_watches.id", index=True)
    seeds: list[str] = Field(sa_column=Column(JSON, nullable=False))
    allow_hosts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    max_pages: int
    status: JobStatus = _status_column(JobStatus, JobStatus.QUEUED)
    pages_fetched: int = 0
    images_checked: int = 0
    alerts: int = 0
    error: str | None = Field(default=None, max_length=2000)
    # Each seed that could not be crawled, as {"url", "kind", "message"}: refused by the
    # network guard or robots.txt, unreachable, or not a page.
    seed_issues: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CrawlWatch(SQLModel, table=True):
    """A rights holder's seed URLs, crawled again every `interval_s` seconds."""

    __tablename__ = "crawl_watches"

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    seeds: list[str] = Field(sa_column=Column(JSON, nullable=False))
    max_pages: int
    interval_s: int
    next_run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_job_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LicensedDomain(SQLModel, table=True):
    """A domain (and its subdomains) where a work is licensed: copies there raise no alert."""

    __tablename__ = "licensed_domains"
    __table_args__ = (UniqueConstraint("work_id", "domain", name="uq_licensed_domains_work"),)

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    domain: str = Field(max_length=253)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Alert(SQLModel, table=True):
    """A copy of a work found on the web, with the evidence captured when it was first seen."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("work_id", "image_sha256", name="uq_alerts_work_image"),)

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    image_sha256: str = Field(max_length=64)
    image_url: str = Field(sa_column=Column(Text, nullable=False))
    # URLs may be long; indexes hold their digest, which PostgreSQL's btree always accepts.
    image_url_sha256: str = Field(max_length=64, index=True)
    page_url: str = Field(sa_column=Column(Text, nullable=False))
    domain: str = Field(max_length=253, index=True)
    score: float
    verified: bool = False
    region: list[list[float]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: AlertStatus = _status_column(AlertStatus, AlertStatus.NEW)
    # The bundle the alert's evidence is: the crawl's first, then the complete one with the
    # screenshot (`ScreenshotStatus`); both bundles' leaves stay on the log.
    evidence_sha256: str = Field(max_length=64)
    manifest_sha256: str = Field(max_length=64)
    log_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    # None for alerts recorded before screenshots moved to the evidence queue: their bundle's
    # manifest says whether one was taken.
    screenshot_status: ScreenshotStatus | None = Field(
        default=None,
        sa_column=Column(
            Enum(ScreenshotStatus, native_enum=False, length=20, values_callable=_values),
            nullable=True,
        ),
    )
    screenshot_reason: str | None = Field(default=None, max_length=500)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Sighting(SQLModel, table=True):
    """One page showing an alert's image, once per crawl job."""

    __tablename__ = "alert_sightings"
    __table_args__ = (
        UniqueConstraint("alert_id", "job_id", "urls_sha256", name="uq_sightings_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="crawl_jobs.id", index=True)
    page_url: str = Field(sa_column=Column(Text, nullable=False))
    image_url: str = Field(sa_column=Column(Text, nullable=False))
    urls_sha256: str = Field(max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExclusivityWatch(SQLModel, table=True):
    """A bought-out work watched for its buyer: copies outside the buyer's domain alert them.

    Made when a buyout is paid (`grant_id` names it); `crawl_watch_id` is the watch re-crawling
    the pages where copies of the work were seen before, in the buyer's name.
    """

    __tablename__ = "exclusivity_watches"

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    buyer_id: int = Field(foreign_key="users.id", index=True)
    grant_id: int
    crawl_watch_id: int | None = Field(default=None, foreign_key="crawl_watches.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FrontierHost(SQLModel, table=True):
    """A host of a crawl job's shared frontier: who holds its lease, and when it may be fetched.

    A crawler fetches a host's pages only while it holds the host's lease, so two crawler
    processes never fetch one host at once; `next_fetch_at` carries the per-host delay (the
    default, or robots.txt's Crawl-delay) from one lease holder to the next.
    """

    __tablename__ = "crawl_frontier_hosts"

    job_id: int = Field(foreign_key="crawl_jobs.id", primary_key=True)
    host: str = Field(max_length=253, primary_key=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_fetch_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FrontierUrl(SQLModel, table=True):
    """A page URL queued once per job: `url_hash` (16 bytes of its SHA-256) keeps it unique."""

    __tablename__ = "crawl_frontier_urls"
    __table_args__ = (
        UniqueConstraint("job_id", "url_hash", name="uq_frontier_urls_seen"),
        Index("ix_frontier_urls_host_state", "job_id", "host", "state", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    job_id: int = Field(foreign_key="crawl_jobs.id")
    url_hash: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False))
    url: str = Field(sa_column=Column(Text, nullable=False))
    host: str = Field(max_length=253)
    depth: int
    state: str = Field(default="pending", max_length=10)


class FrontierImage(SQLModel, table=True):
    """An image URL a job already reported, by 16 bytes of the URL's SHA-256."""

    __tablename__ = "crawl_frontier_images"

    job_id: int = Field(foreign_key="crawl_jobs.id", primary_key=True)
    url_hash: bytes = Field(sa_column=Column(LargeBinary(16), primary_key=True))
