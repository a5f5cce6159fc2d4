"""Every integer a client sends is bounded here: ids fit their columns, amounts stay exact in JSON.

Unbounded, a path id of 2**63 overflows the database driver and a sales amount of 2**53 cannot
be written as a canonical JSON leaf, so both would fail deep inside with a 500. With these types
the request is refused at the edge with a 422 that names the field and its limit, and the
OpenAPI schema publishes the same limits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from registry.log.events import MAX_SAFE_INTEGER

# Primary keys are INTEGER columns: 32 bits on PostgreSQL.
MAX_RECORD_ID = 2**31 - 1
# The largest integer every JSON reader holds exactly, and so the largest a log leaf may hold.
MAX_EXACT_INTEGER = MAX_SAFE_INTEGER


def bounded(minimum: int, maximum: int, description: str) -> object:
    """Pydantic metadata for an integer in [minimum, maximum]; use inside Annotated[int, ...]."""
    return Field(ge=minimum, le=maximum, description=description)


RecordId = Annotated[int, bounded(1, MAX_RECORD_ID, "a record id")]
LogIndex = Annotated[int, bounded(0, MAX_EXACT_INTEGER - 1, "a position in the attestation log")]
LogSize = Annotated[int, bounded(1, MAX_EXACT_INTEGER, "a size of the attestation log")]
