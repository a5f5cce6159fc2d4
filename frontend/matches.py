"""A search's matches in the shape the API serves them, which the CLI prints as JSON lines too."""

from __future__ import annotations

import math
from typing import Any

from registry.schemas import MatchPublic, MatchResultPublic
from registry.search import SearchResult


def match_result_public(result: SearchResult, query: str) -> MatchResultPublic:
    return MatchResultPublic(
        query=query,
        decision=result.decision,
        matches=[
            MatchPublic(
                work_id=match.work_id,
                score=round(match.score, 4),
                p_copy=_four_decimals_down(match.p_copy),
                decision=match.decision,
                verified=match.verified,
                region=list(match.region) if match.region else None,
            )
            for match in result.matches
        ],
    )


def _four_decimals_down(probability: float) -> float:
    # Rounded down, so a probability shown as 0.99 or more always means what `copy` requires.
    return math.floor(probability * 10_000) / 10_000


def result_json(result: SearchResult, query: str) -> dict[str, Any]:
    """The match result as the API serves it, for the CLI's JSON lines."""
    return match_result_public(result, query).model_dump(mode="json")
