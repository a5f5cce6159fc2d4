"""The find-copies page: look an uploaded image up and show what it copies, and where."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse
from PIL import Image

from frontend.charts import score_bar_percent
from frontend.deps import OptionalUser, QueryAdmission, ServicesDep
from frontend.i18n import gettext_for
from frontend.pages.rendering import render
from frontend.services import Services
from frontend.uploads import read_upload
from registry.errors import CopymarkError, Overloaded, TooManyRequests
from registry.models import User, Work
from registry.repository import visible_work
from registry.search import search_upload
from similarity.images import ImageHeader
from similarity.matcher import DECISION_THRESHOLD, Decision, Match

FIND_TOP_K: Final = 8

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class MatchView:
    """One match as the find-copies page shows it."""

    match: Match
    work: Work

    @property
    def region_points(self) -> str:
        """The matched region as SVG polygon points, in query pixels; empty when unverified."""
        if self.match.region is None:
            return ""
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.match.region)

    @property
    def verdict(self) -> Decision:
        """`copy`, `possible` or `no_match` for this work alone."""
        return self.match.decision

    @property
    def is_copy(self) -> bool:
        return self.verdict == "copy"

    def evidence(self, _: Callable[[str], str]) -> list[str]:
        """What the verdict rests on, in the words `_` translates to, strongest first."""
        facts = []
        if self.match.verified:
            facts.append(
                _(
                    "verified geometrically: %(inliers)s keypoint matches agree on where the "
                    "work sits (outlined)"
                )
                % {"inliers": self.match.inliers}
            )
        if self.match.hash_distance is not None:
            facts.append(
                _("perceptual hash (PDQ) %(bits)s of 256 bits apart")
                % {"bits": self.match.hash_distance}
            )
        if self.match.embedding_margin is not None:
            facts.append(
                _("embedding %(margin)s above unrelated background images")
                % {"margin": f"{self.match.embedding_margin:+.3f}"}
            )
        return facts


@dataclass(frozen=True, slots=True)
class QueryPreview:
    """The query as searched (after decoding and downscaling), so regions line up with it."""

    data_url: str
    width: int
    height: int
    name: str


@router.get("/find", response_class=HTMLResponse)
def find_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "find.html", user, searched=False)


@router.post("/find", response_class=HTMLResponse)
async def find_copies(
    request: Request,
    user: OptionalUser,
    services: ServicesDep,
    admit: QueryAdmission,
    file: Annotated[UploadFile, File(description="the image to look up")],
) -> HTMLResponse:
    """Search the registry with an uploaded image; refusals re-show the form with the reason."""
    name = file.filename or "upload"
    try:
        data = await read_upload(file, services.settings.max_upload_bytes)
        found = await services.compute.run(lambda: _find(services, data, name, user, admit))
    except CopymarkError as error:
        page = render(
            request,
            "find.html",
            user,
            error.status_code,
            searched=False,
            error=error.translated(gettext_for(request)),
        )
        if isinstance(error, TooManyRequests | Overloaded):
            page.headers["Retry-After"] = str(error.retry_after_s)
        return page
    return render(
        request,
        "find.html",
        user,
        searched=True,
        decision=found.decision,
        matches=found.matches,
        copies=[view for view in found.matches if view.verdict == "copy"],
        possibles=[view for view in found.matches if view.verdict == "possible"],
        query=found.query,
        score_bar=score_bar_percent,
        threshold_percent=score_bar_percent(DECISION_THRESHOLD),
    )


@dataclass(frozen=True, slots=True)
class _Found:
    decision: Decision
    matches: list[MatchView]
    query: QueryPreview


def _find(
    services: Services,
    data: bytes,
    name: str,
    user: User | None,
    admit: Callable[[ImageHeader], None] | None,
) -> _Found:
    """The search and everything the page shows of it, computed in the compute pool."""
    image, result = search_upload(
        services.similarity,
        services.read_session,
        data,
        limits=services.query_limits,
        viewer=user,
        top_k=FIND_TOP_K,
        admit=admit,
    )
    with services.read_session() as session:
        matches = [
            MatchView(match, visible_work(session, match.work_id, user)) for match in result.matches
        ]
    height, width = image.rgb.shape[:2]
    return _Found(
        result.decision, matches, QueryPreview(_jpeg_data_url(image.rgb), width, height, name)
    )


def _jpeg_data_url(rgb: Any) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
