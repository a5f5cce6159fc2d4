"""Registry tables: accounts and their email verifications, organisations, API keys, login sessions
and failures, works, prior art."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from registry.roles import Role as Role  # noqa: PLC0414 - explicit re-export for callers


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class HasId(Protocol):
    """A table row keyed by an integer id that the database assigns on flush."""

    @property
    def id(self) -> int | None: ...


def persisted_id(row: HasId) -> int:
    """The primary key of a row that has been flushed; a row without one is a programming error."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: flush the session first")
    return row.id


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class WorkStatus(StrEnum):
    REGISTERED = "registered"
    CONFLICT = "conflict"
    WITHDRAWN = "withdrawn"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=320)
    display_name: str = Field(max_length=200)
    password_hash: str
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set once the person proved they read mail at `email` (registry.accounts.verification).
    email_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The language the person chose ("en", "zh"): their pages use it unless a browser says
    # otherwise, and their emails are written in it. None until they choose or sign up.
    locale: str | None = Field(default=None, max_length=16)

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class EmailVerification(SQLModel, table=True):
    """One emailed link proving a person reads mail at an address; only its digest is kept."""

    __tablename__ = "email_verifications"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    # The address the link was sent to: a link proves nothing once the account's address changed.
    email: str = Field(max_length=320)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """One "forgot password" request (registry.accounts.recovery). Every request is a row, an
    unknown address's too (no user, no link), so the per-client budget counts them alike; of a
    mailed link only the digest is kept."""

    __tablename__ = "password_resets"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    # The address the link was sent to: it resets nothing once the account's address changed.
    email: str = Field(max_length=320)
    token_hash: str | None = Field(default=None, unique=True, max_length=64)
    # Who asked (the client address, hashed), for the per-client budget.
    requester_key: str = Field(index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_VERIFIED_DOMAIN = "domain_verified_at IS NOT NULL"


class Organisation(SQLModel, table=True):
    """A brand; its domain counts as the licensee's site only once verified (accounts.domains)."""

    __tablename__ = "organisations"
    __table_args__ = (
        # One verified owner per domain, enforced by the database so two organisations verifying
        # the same domain at once cannot both win; unverified claims may repeat.
        Index(
            "uq_organisations_verified_domain",
            "domain",
            unique=True,
            sqlite_where=text(_VERIFIED_DOMAIN),
            postgresql_where=text(_VERIFIED_DOMAIN),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    domain: str | None = Field(default=None, max_length=253, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The challenge published at _copymark-verify.<domain> (DNS TXT) or at
    # https://<domain>/.well-known/copymark-verify.txt; public by design, so kept in clear.
    domain_token: str | None = Field(default=None, max_length=64)
    domain_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def domain_verified(self) -> bool:
        return self.domain_verified_at is not None


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    organisation_id: int = Field(foreign_key="organisations.id", index=True)
    is_admin: bool = False


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(index=True, max_length=16)
    key_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginSession(SQLModel, table=True):
    __tablename__ = "login_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, kept only for the throttle's window (`registry.accounts.throttle`)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_account_key_failed_at", "account_key", "failed_at"),
        Index("ix_login_failures_client_address_failed_at", "client_address", "failed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the normalised email typed, so addresses mistyped or of other people are not kept.
    account_key: str = Field(max_length=64)
    client_address: str = Field(max_length=64)
    failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Work(SQLModel, table=True):
    __tablename__ = "works"
    __table_args__ = (
        UniqueConstraint("owner_id", "sha256", name="uq_works_owner_sha256"),
        # The public lists (registry, marketplace) page newest first through listed works, or
        # by title. Text search has indexes no model declares (migration 0021): FTS5 on SQLite,
        # pg_trgm on PostgreSQL, each kept by the database.
        Index("ix_works_listed", "visibility", "id", "status"),
        Index("ix_works_listed_title", "visibility", "title", "id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    title: str = Field(max_length=300)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    creators: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_on: date | None = None
    visibility: Visibility = Visibility.PUBLIC
    status: WorkStatus = WorkStatus.REGISTERED
    sha256: str = Field(index=True, max_length=64)
    mime_type: str = Field(max_length=50)
    width: int
    height: int
    byte_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    fingerprint: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    log_index: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The leaf's `log_submissions` row while the log's sequencer has yet to append it
    # (COPYMARK_LOG_SEQUENCED); `log_index` stays null until then. Null where it appended in place.
    log_submission_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, index=True)
    )
    # The openings of the commitments a private work's leaf carries (registry.log.commitments);
    # the owner's certificate hands them on. Null for a public work, whose leaf shows its digests.
    log_openings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    registered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IndexChange(SQLModel, table=True):
    """A work to add to or remove from every process's similarity index: the change feed.

    Written in the transaction that registers or withdraws the work, so a change exists exactly
    when its transaction commits; each process applies the changes above the last id it saw
    (`registry.snapshots.IndexFollower`). SQLite never reuses an id (AUTOINCREMENT), so a
    follower's cursor stays valid once old rows are deleted.
    """

    __tablename__ = "index_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    work_id: int = Field(foreign_key="works.id", ondelete="CASCADE")
    # "add" (registered) or "remove" (withdrawn).
    change: str = Field(max_length=6)
    # Indexed: a follower opening reads the newest settled change, and pruning the oldest.
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class WorkTag(SQLModel, table=True):
    """One tag of a work, so that a tag search reads an index instead of every work's JSON.

    The database keeps it equal to `works.tags` by triggers (migration 0021), whatever writes
    the work: registration, an edit, a seed. A migration that rebuilds `works` (SQLite batch
    mode drops the table) must create those triggers again.
    """

    __tablename__ = "work_tags"
    __table_args__ = (Index("ix_work_tags_tag_work", "tag", "work_id"),)

    work_id: int = Field(foreign_key="works.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True)


class WorkReference(SQLModel, table=True):
    """What a search checks a look-alike against, made at registration so that a query reads it
    instead of decoding the work's image: `similarity.references.ReferenceFeatures` (ORB
    keypoints and the copy descriptor, about 22 KB). A table of its own, so that reading work
    rows in bulk (recovery, snapshots, lists) never carries it; works registered before it was
    kept have no row, and are checked against their decoded image as before.
    """

    __tablename__ = "work_references"

    work_id: int = Field(foreign_key="works.id", primary_key=True, ondelete="CASCADE")
    features: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class PriorArtConflict(SQLModel, table=True):
    """A registration that resembles another owner's earlier work, kept for review."""

    __tablename__ = "prior_art_conflicts"

    id: int | None = Field(default=None, primary_key=True)
    work_id: int = Field(foreign_key="works.id", index=True)
    earlier_work_id: int = Field(foreign_key="works.id", index=True)
    score: float
    resolution: str = Field(default="open", max_length=20)
    # The owner's reason when they answer the conflict (`registry.service.resolve_conflict`).
    resolution_note: str = Field(default="", max_length=2000)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IndexSnapshot(SQLModel, table=True):
    """A similarity index built from the stored fingerprints, saved as one blob.

    It holds every indexable work with an id up to `last_work_id` (of one index shard, written
    `shard/of`, when `shard` is set); a process that loads it adds the works registered since
    (the delta) from the database.
    """

    __tablename__ = "index_snapshots"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64)
    last_work_id: int
    works: int
    shard: str | None = Field(default=None, max_length=24, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
