"""The roles an account can hold, free of the ORM so that the CLI can offer them cheaply."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CREATOR = "creator"
    BRAND = "brand"
    RIGHTS_HOLDER = "rights_holder"
    ADMIN = "admin"
