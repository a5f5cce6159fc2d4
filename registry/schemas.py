"""Request and response models of the registry; write models refuse unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from registry.log.schemas import (
    BASE64_32_BYTES,
    HEX_SHA256,
    KeyId,
    LeafIndex,
    ProofPath,
    SignedTreeHeadPublic,
    TreeSize,
)
from registry.models import Visibility, WorkStatus
from similarity.matcher import Decision


def clean_names(values: list[str]) -> list[str]:
    """Tags or creator names without blanks; each at most 100 characters."""
    cleaned = [value.strip() for value in values if value.strip()]
    if any(len(value) > 100 for value in cleaned):
        raise ValueError("each tag or creator name has at most 100 characters")
    return cleaned


class WorkMetadata(BaseModel):
    """What a creator says about a work at upload time."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    creators: list[str] = Field(default_factory=list, max_length=20)
    created_on: date | None = None
    visibility: Visibility = Visibility.PUBLIC

    @field_validator("tags", "creators")
    @classmethod
    def _clean_names(cls, values: list[str]) -> list[str]:
        return clean_names(values)


class WorkUpdate(BaseModel):
    """What the owner may change about a registered work; the registered bytes never change."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    creators: list[str] = Field(default_factory=list, max_length=20)
    visibility: Visibility = Visibility.PUBLIC

    @field_validator("tags", "creators")
    @classmethod
    def _clean_names(cls, values: list[str]) -> list[str]:
        return clean_names(values)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("a work needs a title")
        return title.strip()


class WorkPublic(BaseModel):
    id: int
    owner_id: int
    title: str
    description: str
    tags: list[str]
    creators: list[str]
    created_on: date | None
    visibility: Visibility
    status: WorkStatus
    sha256: str
    mime_type: str
    width: int
    height: int
    byte_size: int
    log_index: int | None
    registered_at: datetime


class RegistrationResult(BaseModel):
    work_id: int
    sha256: str
    log_index: int | None
    status: str
    # Only a work the uploader may see is named; `conflict` says the conflict in words either way.
    conflict_with: int | None = None
    conflict: str | None = None
    path: str | None = None


class RegistrationFailure(BaseModel):
    """A file of a batch upload that was not registered, and why."""

    path: str
    error: str


class OpeningPublic(BaseModel):
    """The salt and value that open one commitment on a leaf."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    salt: str = Field(pattern=HEX_SHA256, description="the random 32-byte salt, lowercase hex")
    value: JsonValue = Field(
        description="the committed value; SHA-256(salt || its canonical JSON) is on the leaf"
    )


class CertificatePublic(BaseModel):
    """A registration or grant certificate, checkable offline with the log's public key.

    The fields and their order are those ``registry.certificates`` issues; verifiers accept
    exactly this set of fields, so the model forbids any other and coerces no value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    format: Literal["copymark-certificate/v2"] = Field(description="the certificate format")
    log_index: LeafIndex
    leaf: str = Field(
        description="the log leaf: canonical JSON text of the attested event, exactly as hashed"
    )
    inclusion_proof: ProofPath
    tree_head: SignedTreeHeadPublic = Field(description="the signed head the proof leads to")
    key_id: KeyId
    public_key: str = Field(
        pattern=BASE64_32_BYTES,
        description="the raw Ed25519 key, base64; informational only, never trusted by a check",
    )
    openings: dict[str, OpeningPublic] = Field(
        description="openings of the leaf's commitments to private values, by field name; "
        "only the parties' certificates carry them, a public one has none"
    )


class CertificateCheckPublic(BaseModel):
    """Whether a certificate verifies against this log's key, and why not when it does not."""

    valid: bool
    reason: str | None = Field(description="why the certificate was refused; null when valid")
    log_index: LeafIndex | None = Field(description="the attested leaf's index, when valid")
    tree_size: TreeSize | None = Field(description="size of the signed tree, when valid")
    disclosed: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="the private values the certificate's openings prove, by field name",
    )


Point = Annotated[tuple[float, float], Field(description="x, y in query-image pixels")]


class MatchPublic(BaseModel):
    """A visible registered work the query image may copy."""

    work_id: int
    score: float = Field(
        description="fused similarity score, 4 decimals, comparable across queries (rank by it); "
        "above 0 there is some evidence, which alone never makes a copy"
    )
    p_copy: float = Field(
        ge=0.0,
        le=1.0,
        description="calibrated probability that the query copies this work, 4 decimals; the "
        "same function of the pair's evidence whatever the registry's size",
    )
    decision: Decision = Field(
        description="copy when verified or p_copy >= 0.99; possible on weaker evidence; "
        "otherwise no_match"
    )
    verified: bool = Field(description="whether geometric verification located the copy")
    region: list[Point] | None = Field(
        min_length=4,
        max_length=4,
        description="corners of the copied region in the query image, when verified",
    )


class MatchResultPublic(BaseModel):
    """The registered works an image copies, best first, with the overall decision."""

    query: str = Field(description="the query's file name")
    decision: Decision = Field(
        description="copy when a match is geometrically verified or has p_copy >= 0.99 (only "
        "this verdict alerts, flags a conflict or drafts a notice); possible when a match shows "
        "some evidence but not enough; no_match otherwise"
    )
    matches: list[MatchPublic]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    # The length and common-password rules are the service's (registry.accounts.passwords).
    password: str = Field(max_length=1000)
    display_name: str = Field(default="", max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["creator"])


class SignUpReceived(BaseModel):
    """The one answer to a sign-up, whether the address was free or already had an account."""

    detail: str


class UserPublic(BaseModel):
    id: int
    email: str
    display_name: str
    roles: list[str]
    email_verified: bool


class EmailVerificationConfirm(BaseModel):
    """The token from the emailed link (`/verify-email?token=...`)."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=100)


class EmailVerificationSent(BaseModel):
    detail: str


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=1000)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", min_length=1, max_length=100)


class ApiKeyIssued(BaseModel):
    api_key: str


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class SessionStarted(BaseModel):
    csrf_token: str


class SessionsEnded(BaseModel):
    """How many login sessions a sign-out ended."""

    ended: int


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)


class OrganisationPublic(BaseModel):
    id: int
    name: str
    domain: str | None
    # Only a verified domain names this organisation as a licensee in license checks and crawls.
    domain_verified: bool


class DomainChallengePublic(BaseModel):
    """Publish either proof, then ask for the check: a DNS TXT record or a file on the site."""

    organisation_id: int
    domain: str
    dns_name: str
    dns_value: str
    url: str
    file_content: str
    verified: bool
