"""Response models of the app itself rather than of a domain: its health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthPublic(BaseModel):
    status: Literal["ok", "starting"] = Field(
        description="ok once the app has started and its services are ready (503 until then)"
    )
