"""Request and response models of monitoring; write models refuse unknown fields."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from registry.monitoring.models import (
    MAX_PAGES_LIMIT,
    MAX_SEEDS,
    MAX_WATCH_INTERVAL_S,
    MIN_WATCH_INTERVAL_S,
    AlertStatus,
    JobStatus,
    ScreenshotStatus,
)


class CrawlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seeds: list[str] = Field(min_length=1, max_length=MAX_SEEDS)
    max_pages: int = Field(default=100, ge=1, le=MAX_PAGES_LIMIT)
    allow_hosts: list[str] = Field(default_factory=list, max_length=20)


class SeedIssue(BaseModel):
    url: str
    kind: str = Field(description="refused, disallowed_by_robots, timeout, http_status, ...")
    message: str


class CrawlPublic(BaseModel):
    id: int
    status: JobStatus
    seeds: list[str]
    max_pages: int
    pages_fetched: int
    images_checked: int
    alerts: int
    error: str | None = Field(description="why the crawl failed, when it did")
    seed_issues: list[SeedIssue] = Field(
        description="each seed that could not be crawled (refused, unreachable, not a page)"
    )
    watch_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class WatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seeds: list[str] = Field(min_length=1, max_length=MAX_SEEDS)
    max_pages: int = Field(default=100, ge=1, le=MAX_PAGES_LIMIT)
    interval_s: int = Field(default=7 * 24 * 3600, ge=MIN_WATCH_INTERVAL_S, le=MAX_WATCH_INTERVAL_S)


class WatchPublic(BaseModel):
    id: int
    seeds: list[str]
    max_pages: int
    interval_s: int
    next_run_at: datetime
    last_job_id: int | None


class LicensedDomainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=253)


class LicensedDomainPublic(BaseModel):
    work_id: int
    domain: str
    created_at: datetime


class AlertPublic(BaseModel):
    id: int
    work_id: int
    status: AlertStatus
    page_url: str
    image_url: str
    domain: str
    image_sha256: str
    score: float
    verified: bool
    region: list[list[float]] | None
    evidence_sha256: str
    manifest_sha256: str
    log_index: int
    # pending: the screenshot of the page is still to be taken, and the evidence above is the
    # crawl's first bundle; taken: the evidence above holds it; not_taken: why in the reason.
    # None for alerts recorded before screenshots moved to the evidence queue.
    screenshot_status: ScreenshotStatus | None = None
    screenshot_reason: str | None = None
    first_seen_at: datetime
    last_seen_at: datetime


class SightingPublic(BaseModel):
    page_url: str
    image_url: str
    job_id: int | None
    seen_at: datetime


class AlertDetail(AlertPublic):
    sightings: list[SightingPublic]


class DomainGroup(BaseModel):
    domain: str
    alerts: list[AlertPublic]


class AlertStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AlertStatus
