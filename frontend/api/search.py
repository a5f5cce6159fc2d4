"""Search by image: used by the marketplace's "find similar", the crawler's checks and scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.matches import match_result_public
from frontend.uploads import read_upload
from registry.schemas import MatchResultPublic
from registry.search import decode_query, search_image, visible_to

router = APIRouter(tags=["search"])


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
