"""Search by image: which registered works an image copies, limited to what the viewer may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from registry.errors import InvalidUpload
from registry.models import User, Visibility, Work, WorkStatus
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
    """Keep the matches on public works and the viewer's own; the decision follows what is left."""
    ids = [match.work_id for match in result.matches]
    if not ids:
        return result
    shown = or_(
        Work.visibility == Visibility.PUBLIC, Work.owner_id == (viewer.id if viewer else -1)
    )
    allowed = set(
        session.exec(
            select(Work.id).where(col(Work.id).in_(ids), Work.status != WorkStatus.WITHDRAWN, shown)
        ).all()
    )
    kept = [match for match in result.matches if match.work_id in allowed]
    return SearchResult(kept, similarity.decide(kept))
