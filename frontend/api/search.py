"""Search by image: used by the marketplace's "find similar", the crawler's checks and scripts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from frontend.deps import OptionalUser, QueryAdmission, ServicesDep
from frontend.matches import match_result_public
from frontend.uploads import read_upload
from registry.schemas import MatchResultPublic
from registry.search import search_upload

router = APIRouter(tags=["search"])


@router.post("/match")
async def match(
    user: OptionalUser,
    services: ServicesDep,
    admit: QueryAdmission,
    file: Annotated[UploadFile, File(description="the image to look up")],
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> MatchResultPublic:
    """Registered works this image copies; public works and the caller's own are shown."""
    data = await read_upload(file, services.settings.max_upload_bytes)
    _image, result = await services.compute.run(
        lambda: search_upload(
            services.similarity,
            services.read_session,
            data,
            limits=services.query_limits,
            viewer=user,
            top_k=top_k,
            admit=admit,
        )
    )
    return match_result_public(result, file.filename or "upload")
