"""Search by image: which registered works an image copies, limited to what the viewer may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from registry.errors import InvalidUpload, PayloadTooLarge
from registry.image_refusals import image_refusal
from registry.messages import N_
from registry.models import User
from registry.repository import visible_work_ids
from similarity.engine import SimilarityEngine
from similarity.images import (
    ImageHeader,
    ImageLimits,
    ImageRejected,
    ImageTooLarge,
    LoadedImage,
    load_image,
    read_header,
)
from similarity.matcher import Decision, Match

SEARCH_MAX_SIDE = 512


@dataclass(frozen=True)
class SearchResult:
    matches: list[Match]
    decision: Decision


def decode_query(
    data: bytes, limits: ImageLimits, admit: Callable[[ImageHeader], None] | None = None
) -> LoadedImage:
    """Decode a search image; `admit` sees its header first and may refuse it by raising.

    An image over the limits is a 413 and a malformed one a 422, both decided from the header
    before any pixel is decoded.
    """
    try:
        if admit is not None:
            admit(read_header(data, limits, max_side=SEARCH_MAX_SIDE))
        return load_image(data, limits, max_side=SEARCH_MAX_SIDE)
    except ImageTooLarge as refusal:
        raise PayloadTooLarge(
            N_("this image cannot be searched: %(reason)s"), reason=image_refusal(refusal)
        ) from None
    except ImageRejected as rejection:
        raise InvalidUpload(
            N_("this image cannot be searched: %(reason)s"), reason=image_refusal(rejection)
        ) from None


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


def search_upload(
    similarity: SimilarityEngine,
    read_session: Callable[[], Session],
    data: bytes,
    *,
    limits: ImageLimits,
    viewer: User | None,
    top_k: int,
    admit: Callable[[ImageHeader], None] | None = None,
) -> tuple[LoadedImage, SearchResult]:
    """Decode an uploaded image, search with it and keep what the viewer may see.

    CPU work first, then one short read in a read-only transaction of its own: a search never
    takes the database's write lock, and holds no transaction while it computes.
    """
    image = decode_query(data, limits, admit)
    result = search_image(similarity, image, top_k)
    with read_session() as session:
        return image, visible_to(session, result, viewer, similarity)
