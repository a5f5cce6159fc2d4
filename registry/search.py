"""Search by image: which registered works an image copies, limited to what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from registry.errors import InvalidUpload
from registry.models import User
from registry.repository import visible_work_ids
from similarity.engine import SimilarityEngine
from similarity.images import ImageLimits, ImageRejected, LoadedImage, load_image
from similarity.matcher import Decision, Match

SEARCH_MAX_SIDE = 512


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    decision: Decision


def decode_query(data: bytes, limits: ImageLimits) -> LoadedImage:
    try:
        return load_image(data, limits, max_side=SEARCH_MAX_SIDE)
    except ImageRejected as rejection:
        raise InvalidUpload(str(rejection)) from None


def search_image(similarity: SimilarityEngine, image: LoadedImage, top_k: int) -> SearchResult:
    """Every indexed work the image may copy, best first, with the engine's decision."""
    matches = similarity.search(image, top_k=top_k)
    return SearchResult(matches, similarity.decide(matches))


def visible_to(
    session: Session, result: SearchResult, viewer: User | None, similarity: SimilarityEngine
) -> SearchResult:
    """Keep the matches on works the viewer may see (the registry's one rule, `work_scope`);
    the decision follows what is left."""
    if not result.matches:
        return result
    allowed = visible_work_ids(session, (match.work_id for match in result.matches), viewer)
    kept = [match for match in result.matches if match.work_id in allowed]
    return SearchResult(kept, similarity.decide(kept))
