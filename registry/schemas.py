"""Request and response models of the registry; write models refuse unknown fields."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry.models import Visibility, WorkStatus


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
        cleaned = [value.strip() for value in values if value.strip()]
        if any(len(value) > 100 for value in cleaned):
            raise ValueError("each tag or creator name has at most 100 characters")
        return cleaned


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
    conflict_with: int | None = None
    path: str | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(min_length=8, max_length=1000)
    display_name: str = Field(default="", max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["creator"])


class UserPublic(BaseModel):
    id: int
    email: str
    display_name: str
    roles: list[str]


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


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)


class OrganisationPublic(BaseModel):
    id: int
    name: str
    domain: str | None
