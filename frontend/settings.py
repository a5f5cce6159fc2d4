"""One settings object for the whole app, read from COPYMARK_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.blobs import S3Location
from similarity.images import DEFAULT_LIMITS

PASSWORD_TIME_COST = 3
PASSWORD_MEMORY_KIB = 64 * 1024
PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the value that refuses to start outside development


class Settings(BaseSettings):
    """Configuration; every field can be set as COPYMARK_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="COPYMARK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Path("./var")
    database_url: str = ""
    # Empty: blob files under `home`. `s3://bucket/prefix?endpoint=URL&region=NAME`: an S3 bucket,
    # with credentials from boto3's usual chain (AWS_ACCESS_KEY_ID, a profile, a role).
    blob_url: str = ""
    # Empty: background tasks run on threads of the serving process. `redis://host:port/db`:
    # they go to Celery workers (`copymark worker`) through that Redis.
    task_broker_url: str = ""
    # Redis hands a task unacknowledged this long to another worker; 0 means the longest task's
    # time limit plus ten minutes.
    task_visibility_timeout_s: float = Field(default=0, ge=0)
    secret_key: str = PLACEHOLDER_SECRET
    base_url: str = "http://127.0.0.1:8000"
    max_upload_bytes: int = Field(default=DEFAULT_LIMITS.max_bytes, gt=0)
    max_upload_pixels: int = Field(default=DEFAULT_LIMITS.max_pixels, gt=0)
    max_batch_files: int = Field(default=500, gt=0)
    # Request bodies, checked as they stream in (frontend/body_limits.py): a batch of images may
    # total max_batch_bytes, a route that takes no upload max_body_bytes.
    max_batch_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Pixels decoded for one search image (a JPEG counts at the reduced size it decodes at), and
    # what one anonymous client address may decode a minute (frontend/admission.py).
    max_query_pixels: int = Field(default=16_000_000, gt=0)
    anonymous_query_pixels_per_minute: int = Field(default=100_000_000, gt=0)
    # Threads for CPU-heavy requests (0: one per core) and places to wait for one (None: four
    # per thread); a request finding neither is answered 503 with Retry-After.
    compute_workers: int = Field(default=0, ge=0)
    compute_queue: int | None = Field(default=None, ge=0)
    # Session cookies are Secure when this is set or the request came over HTTPS.
    secure_cookies: bool = False
    # Failed sign-ins allowed per email address and per client address in a 15-minute window.
    login_failures_per_account: int = Field(default=10, gt=0)
    login_failures_per_address: int = Field(default=50, gt=0)
    # Argon2id's cost for new password hashes: RFC 9106's low-memory choice by default. Less is
    # refused in production; the test suite, which signs up thousands of accounts, spends less.
    password_hash_time_cost: int = Field(default=PASSWORD_TIME_COST, ge=1)
    password_hash_memory_kib: int = Field(default=PASSWORD_MEMORY_KIB, ge=64)
    crawl_allow_hosts: list[str] = Field(default_factory=list)
    # Crawls one account may start in a trailing 24 hours, and have queued or running at once.
    crawls_per_day: int = Field(default=20, gt=0)
    crawls_at_once: int = Field(default=2, gt=0)
    # Seconds between request starts on one host (robots.txt's Crawl-delay may ask for more),
    # and how long a crawler's lease on a host outlives its last renewal on a shared frontier.
    crawl_delay_s: float = Field(default=1.0, ge=0)
    crawl_lease_s: float = Field(default=60.0, gt=0)
    # Hosts one crawler process leases at most; the rest are left to the other crawlers.
    crawl_hosts_per_crawler: int = Field(default=64, gt=0)
    # Watches re-crawl on their schedule while the app serves; off only where something else
    # (another process, or nothing) should run them.
    run_watches: bool = True
    # Several server processes serve this home (`copymark serve --workers N`): the background
    # work (task threads, the relay, the tickers, the watch loop) runs in the one process that
    # holds the home's background lock, and the others only answer requests.
    shared_serving: bool = False
    # Registration hands its log leaves to the log's sequencer (`copymark log sequence`, on
    # PostgreSQL) instead of appending them under the log's lock in its own transaction; a reply
    # waits this long for the indexes, and a work not appended by then shows that it is waiting.
    log_sequenced: bool = False
    log_sequenced_wait_s: float = Field(default=30.0, gt=0)
    # Seconds between rounds in which each process applies the works other processes registered
    # or withdrew (registry.snapshots.IndexFollower) to its own similarity index.
    index_follow_s: float = Field(default=2.0, gt=0)
    # The similarity index split by work id across shard processes (`copymark index shard`), by
    # their base URLs, every shard of one set once: this process then holds no index of its own
    # and asks them all. Empty: the index is in this process.
    index_shards: list[str] = Field(default_factory=list)
    models_dir: Path | None = None
    # Email is off while smtp_host is empty.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_from: str = "Copymark <notifications@localhost>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # Webhook hosts that skip the SSRF address checks and may use plain http (tests, demo).
    webhook_allow_hosts: list[str] = Field(default_factory=list)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Payments: Stripe with these keys; with no key, `copymark serve` starts the local sandbox.
    stripe_api_key: str = ""
    stripe_api_base: str = ""
    # What the brand's browser tokenises cards with; the sandbox takes any pk_ key.
    stripe_publishable_key: str = ""
    # Stripe webhooks are refused while this is empty.
    stripe_webhook_secret: str = ""
    # Payouts: a round every period pays each onboarded party whose available balance reaches
    # the minimum (minor units of the balance's currency).
    payout_minimum_minor: int = Field(default=1_000, ge=1, le=10**15)
    payout_period_s: float = Field(default=3600.0, gt=0)

    @field_validator("blob_url")
    @classmethod
    def _blob_url_is_s3(cls, value: str) -> str:
        if value:
            S3Location.parse(value)
        return value

    @field_validator("index_shards")
    @classmethod
    def _index_shards_are_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parsed = urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(
                    f"COPYMARK_INDEX_SHARDS: {url!r} is not a shard's base URL such as "
                    "http://10.0.0.5:7301"
                )
        if len(set(value)) != len(value):
            raise ValueError("COPYMARK_INDEX_SHARDS names a shard more than once")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("COPYMARK_SECRET_KEY must be set to a real secret in production")
        return self

    @model_validator(mode="after")
    def _refuse_sequenced_log_on_sqlite(self) -> Settings:
        if self.log_sequenced and not self.resolved_database_url.startswith("postgresql"):
            raise ValueError(
                "COPYMARK_LOG_SEQUENCED needs PostgreSQL (COPYMARK_DATABASE_URL): on SQLite, "
                "leaves are appended in the registering transaction"
            )
        return self

    @model_validator(mode="after")
    def _refuse_weak_password_hashing(self) -> Settings:
        if self.environment == "production" and (
            self.password_hash_time_cost < PASSWORD_TIME_COST
            or self.password_hash_memory_kib < PASSWORD_MEMORY_KIB
        ):
            raise ValueError(
                "in production, COPYMARK_PASSWORD_HASH_TIME_COST must be at least "
                f"{PASSWORD_TIME_COST} and COPYMARK_PASSWORD_HASH_MEMORY_KIB at least "
                f"{PASSWORD_MEMORY_KIB}"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured database, or SQLite under COPYMARK_HOME."""
        return self.database_url or f"sqlite:///{(self.home / 'copymark.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def model_cache_dir(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def signing_key_path(self) -> Path:
        return self.home / "keys" / "log-signing.key"
