"""Search by image: used by the marketplace's "find similar", the crawler's checks and scripts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile

from frontend.api.works import read_upload
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from registry.schemas import MatchPublic, MatchResultPublic
from registry.search import SearchResult, decode_query, search_image, visible_to

router = APIRouter(tags=["search"])


def match_result_public(result: SearchResult, query: str) -> MatchResultPublic:
    return MatchResultPublic(
        query=query,
        decision=result.decision,
        matches=[
            MatchPublic(
                work_id=match.work_id,
                score=round(match.score, 4),
                verified=match.verified,
                region=list(match.region) if match.region else None,
            )
            for match in result.matches
        ],
    )


def result_json(result: SearchResult, query: str) -> dict[str, Any]:
    """The match result as the API serves it, for the CLI's JSON lines."""
    return match_result_public(result, query).model_dump(mode="json")


@router.post("/match")
async def match(
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="the image to look up")],
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> MatchResultPublic:
    """Registered works this image copies; public works and the caller's own are shown."""
    data = await read_upload(file, services.settings.max_upload_bytes)
    image = decode_query(data, services.limits)
    result = search_image(services.similarity, image, top_k)
    return match_result_public(
        visible_to(session, result, user, services.similarity), file.filename or "upload"
    )
