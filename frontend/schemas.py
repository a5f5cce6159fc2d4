"""Response models of the app itself rather than of a domain: its health and its errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    status: Literal["ok", "starting"] = Field(
        description="ok once the app has started and its services are ready (503 until then)"
    )


class ErrorPublic(BaseModel):
    """The body of every error the JSON API answers (4xx, 503): the one error contract."""

    detail: str = Field(description="what went wrong, in words a person can act on")
    code: str = Field(description="a stable machine code, e.g. not_found or request_invalid")
    errors: list[str] | None = Field(
        default=None, description="with request_invalid: each invalid field and why"
    )
