"""Server-rendered pages; each view calls a service and renders a template, nothing more.

Every error a user can cause on a page answers a readable HTML page with the right status,
never the JSON API's error body.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from PIL import Image
from sqlmodel import Session

from frontend.api.monitoring import app_monitor
from frontend.api.works import read_upload
from frontend.deps import SESSION_COOKIE, OptionalUser, ServicesDep, SessionDep, csrf_token_for
from licensing.contract import Contract
from licensing.money import Money
from licensing.repository import active_version
from licensing.service.offers import list_open_offers
from licensing.service.royalties import RoyaltyReport, sales_history
from registry.accounts import authenticate, create_user, end_login_session, start_login_session
from registry.certificates import render_certificate_pdf, verify_certificate
from registry.errors import CopymarkError, NotFound
from registry.log.signing import SignedTreeHead
from registry.log.store import AttestationLog, LogEntry
from registry.models import Role, User, Work
from registry.monitoring.evidence import SIDE_BY_SIDE_NAME
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.repository import owned_alert, sightings_of
from registry.monitoring.service import (
    ALLOWED_TRANSITIONS,
    alerts_by_domain,
    change_status,
    evidence_bundle,
)
from registry.notifications.takedown import TakedownFacts, chinese_platform_complaint, dmca_notice
from registry.repository import (
    get_owned_work,
    list_owned_works,
    list_public_works,
    prior_art_conflicts,
    visible_work,
)
from registry.search import decode_query, search_image, visible_to
from registry.service import work_certificate, work_certificate_view
from similarity.matcher import DECISION_THRESHOLD, Match

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
FIND_TOP_K: Final = 8
# Scores run from about -2 (nothing alike) to about +1.2 (verified copy); the bar shows
# [-1, +1] so the decision threshold (0) sits in its middle.
SCORE_BAR_MIN: Final = -1.0
SCORE_BAR_MAX: Final = 1.0
GROWTH_HEADS_SHOWN: Final = 60


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    services = request.app.state.services
    token = request.cookies.get(SESSION_COOKIE, "")
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": csrf_token_for(services, token) if token else "", **context},
        status_code=status_code,
    )


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    """The error page: what went wrong, in words, with the HTTP status."""
    return render(request, "error.html", None, status_code, status=status_code, message=message)


def validation_message(error: RequestValidationError) -> str:
    problems = [
        f"{' '.join(str(part) for part in item['loc'][1:]) or 'request'}: {item['msg']}"
        for item in error.errors()
    ]
    return "; ".join(problems)


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: OptionalUser, session: SessionDep) -> HTMLResponse:
    return render(request, "home.html", user, works=list_public_works(session))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(request, "login.html", user, heading="Sign in", action="/login")


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, user: OptionalUser) -> HTMLResponse:
    return render(
        request, "login.html", user, heading="Create account", action="/signup", signup=True
    )


def _signed_in(services: Any, session: Session, user: User) -> Response:
    token = start_login_session(session, user)
    response = RedirectResponse("/works", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
        max_age=14 * 24 * 3600,
    )
    return response


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = authenticate(session, email, password)
    except CopymarkError as error:
        return render(
            request,
            "login.html",
            None,
            401,
            heading="Sign in",
            action="/login",
            error=error.message,
            email=email,
        )
    return _signed_in(services, session, user)


@router.post("/signup", response_model=None)
def signup(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "creator",
) -> Response:
    try:
        if role not in {Role.CREATOR, Role.RIGHTS_HOLDER, Role.BRAND}:
            raise CopymarkError(f"unknown role {role!r}")
        user = create_user(session, email=email, password=password, roles={Role(role)})
    except CopymarkError as error:
        return render(
            request,
            "login.html",
            None,
            error.status_code,
            heading="Create account",
            action="/signup",
            signup=True,
            error=error.message,
            email=email,
        )
    return _signed_in(services, session, user)


@router.post("/logout")
def logout(request: Request, user: OptionalUser, session: SessionDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token and user is not None:
        end_login_session(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/works", response_class=HTMLResponse, response_model=None)
def my_works(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "works.html", user, works=list_owned_works(session, user))


@dataclass(frozen=True, slots=True)
class ConflictView:
    """A prior-art conflict as shown: the earlier work only if the viewer may see it."""

    earlier_work_id: int
    earlier_work: Work | None
    score: float
    resolution: str


@router.get("/works/{work_id}", response_class=HTMLResponse, response_model=None)
def work_page(
    work_id: int, request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    work = get_owned_work(session, user, work_id)
    conflicts = [
        ConflictView(
            conflict.earlier_work_id,
            _visible_or_none(session, conflict.earlier_work_id, user),
            conflict.score,
            conflict.resolution,
        )
        for conflict in prior_art_conflicts(session, work)
    ]
    check = verify_certificate(
        work_certificate(session, services.signer, work), services.signer.public_key
    )
    return render(
        request,
        "work.html",
        user,
        work=work,
        conflicts=conflicts,
        check=check,
        score_bar=score_bar_percent,
    )


def _visible_or_none(session: Session, work_id: int, viewer: User) -> Work | None:
    try:
        return visible_work(session, work_id, viewer)
    except NotFound:
        return None


@router.get("/works/{work_id}/thumbnail")
def thumbnail(
    work_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    work = visible_work(session, work_id, user)
    data = services.thumbnails.render(work.sha256)
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/works/{work_id}/certificate.pdf")
def certificate_pdf(
    work_id: int, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    work = visible_work(session, work_id, user)
    view = work_certificate_view(session, services.signer, work, services.settings.base_url)
    return Response(
        render_certificate_pdf(view),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="copymark-work-{work_id}.pdf"'},
    )


@router.get("/verify/{work_id}", response_class=HTMLResponse)
def verify_page(
    work_id: int, request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    """Anyone holding a certificate's QR link lands here; a private work only for its owner."""
    work = visible_work(session, work_id, user)
    certificate = work_certificate(session, services.signer, work)
    view = work_certificate_view(session, services.signer, work, services.settings.base_url)
    check = verify_certificate(certificate, services.signer.public_key)
    return render(request, "verify.html", user, work=work, view=view, check=check)


def score_bar_percent(score: float) -> float:
    """Where a score sits on the score bar, 0 to 100."""
    position = (score - SCORE_BAR_MIN) / (SCORE_BAR_MAX - SCORE_BAR_MIN)
    return round(100 * min(max(position, 0.0), 1.0), 1)


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
    def is_copy(self) -> bool:
        return self.match.score > DECISION_THRESHOLD


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
    session: SessionDep,
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="the image to look up")],
) -> HTMLResponse:
    """Search the registry with an uploaded image; refusals re-show the form with the reason."""
    name = file.filename or "upload"
    try:
        data = await read_upload(file, services.settings.max_upload_bytes)
        image = decode_query(data, services.limits)
    except CopymarkError as error:
        return render(
            request, "find.html", user, error.status_code, searched=False, error=error.message
        )
    result = visible_to(
        session, search_image(services.similarity, image, FIND_TOP_K), user, services.similarity
    )
    matches = [
        MatchView(match, visible_work(session, match.work_id, user)) for match in result.matches
    ]
    height, width = image.rgb.shape[:2]
    preview = QueryPreview(_jpeg_data_url(image.rgb), width, height, name)
    return render(
        request,
        "find.html",
        user,
        searched=True,
        decision=result.decision,
        matches=matches,
        copies=[view for view in matches if view.is_copy],
        query=preview,
        score_bar=score_bar_percent,
        threshold_percent=score_bar_percent(DECISION_THRESHOLD),
    )


def _jpeg_data_url(rgb: Any) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True, slots=True)
class TreeNode:
    x: float
    y: float
    kind: str
    label: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class TreeEdge:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Subtree:
    """A perfect subtree of the log drawn folded, as a triangle under its root."""

    apex_x: float
    apex_y: float
    left: float
    right: float
    base_y: float
    label: str

    @property
    def points(self) -> str:
        return f"{self.apex_x},{self.apex_y} {self.left},{self.base_y} {self.right},{self.base_y}"


@dataclass(frozen=True, slots=True)
class TreePicture:
    """The log's tree as RFC 9162 shapes it: older history folded, the newest leaves drawn."""

    width: float
    height: float
    nodes: list[TreeNode]
    edges: list[TreeEdge]
    subtrees: list[Subtree]


EXPANDED_SUBTREE_MAX: Final = 8
_SLOT: Final = 34.0
_LEVEL: Final = 30.0
_FOLDED_SLOTS: Final = 3
_MARGIN: Final = 20.0


def perfect_subtrees(tree_size: int) -> list[tuple[int, int]]:
    """(start, size) of the perfect subtrees whose right-folded joins form the RFC 9162 root.

    The last subtree is halved until small enough to draw leaf by leaf: a halved perfect
    subtree joined by one node is the same tree, so the fold still gives the true root.
    """
    parts: list[tuple[int, int]] = []
    start = 0
    for bit in reversed(range(tree_size.bit_length())):
        size = 1 << bit
        if tree_size & size:
            parts.append((start, size))
            start += size
    while parts and parts[-1][1] > EXPANDED_SUBTREE_MAX:
        last_start, last_size = parts.pop()
        half = last_size // 2
        parts += [(last_start, half), (last_start + half, half)]
    return parts


def tree_picture(tree_size: int, leaf_at: Callable[[int], LogEntry]) -> TreePicture:
    """Lay out the tree of `tree_size` leaves; `leaf_at` is asked only for the drawn leaves."""
    nodes: list[TreeNode] = []
    edges: list[TreeEdge] = []
    folded: list[Subtree] = []
    roots: list[tuple[float, float]] = []
    leaf_y = 0.0
    cursor = 0.0
    for start, size in perfect_subtrees(tree_size):
        if size <= EXPANDED_SUBTREE_MAX:
            level = [(cursor + (i + 0.5) * _SLOT, leaf_y) for i in range(size)]
            for i, (x, y) in enumerate(level):
                entry = leaf_at(start + i)
                nodes.append(
                    TreeNode(
                        x,
                        y,
                        f"leaf ev-{entry.event_type}",
                        f"leaf {entry.index}: {entry.event_type}, {entry.leaf_hash.hex()[:16]}…",
                        f"/api/v1/log/leaves/{entry.index}",
                    )
                )
            while len(level) > 1:
                parents = []
                for left, right in zip(level[::2], level[1::2], strict=True):
                    parent = ((left[0] + right[0]) / 2, left[1] - _LEVEL)
                    edges += [TreeEdge(*parent, *left), TreeEdge(*parent, *right)]
                    nodes.append(TreeNode(*parent, "inner", "hash of the two below"))
                    parents.append(parent)
                level = parents
            roots.append(level[0])
            cursor += size * _SLOT
        else:
            base_left, base_right = cursor + 4, cursor + _FOLDED_SLOTS * _SLOT - 4
            apex = ((base_left + base_right) / 2, leaf_y - 2 * _LEVEL)
            folded.append(
                Subtree(*apex, base_left, base_right, leaf_y + 6, f"{start}–{start + size - 1}")
            )
            roots.append(apex)
            cursor += _FOLDED_SLOTS * _SLOT
        cursor += _SLOT / 3
    if roots:
        joined = roots[-1]
        for root in reversed(roots[:-1]):
            parent = ((root[0] + joined[0]) / 2, min(root[1], joined[1]) - _LEVEL)
            edges += [TreeEdge(*parent, *root), TreeEdge(*parent, *joined)]
            nodes.append(TreeNode(*parent, "inner", "hash of the two below"))
            joined = parent
        nodes.append(TreeNode(*joined, "root", f"root of {tree_size} leaves"))
    return _shifted(nodes, edges, folded, cursor)


def _shifted(
    nodes: list[TreeNode], edges: list[TreeEdge], folded: list[Subtree], width: float
) -> TreePicture:
    """Move the drawing so its top sits at the margin (the layout grows upwards from y=0)."""
    top = min([node.y for node in nodes] + [-2 * _LEVEL])
    dy = _MARGIN - top
    return TreePicture(
        width=max(width, _SLOT),
        height=dy + _MARGIN + 10,
        nodes=[replace(node, y=node.y + dy) for node in nodes],
        edges=[replace(edge, y1=edge.y1 + dy, y2=edge.y2 + dy) for edge in edges],
        subtrees=[
            replace(part, apex_y=part.apex_y + dy, base_y=part.base_y + dy) for part in folded
        ],
    )


@dataclass(frozen=True, slots=True)
class GrowthChart:
    """Tree size over time from the signed heads, as an SVG polyline in a 600×160 box."""

    points: str
    latest_x: float
    latest_y: float
    first: str
    last: str
    max_size: int
    heads: int


_CHART_WIDTH: Final = 600.0
_CHART_HEIGHT: Final = 160.0


def growth_chart(heads: Sequence[SignedTreeHead]) -> GrowthChart | None:
    """A step line of tree size against signing time; None before the first head."""
    if not heads:
        return None
    first, last = heads[0].timestamp, heads[-1].timestamp
    span = max(last - first, 1)
    top = max(head.tree_size for head in heads) or 1
    points: list[str] = []
    previous_y: float | None = None
    for head in heads:
        x = _CHART_WIDTH * (head.timestamp - first) / span if last > first else _CHART_WIDTH
        y = _CHART_HEIGHT * (1 - head.tree_size / top)
        if previous_y is not None:
            points.append(f"{x:.1f},{previous_y:.1f}")
        points.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    latest_x, latest_y = (float(value) for value in points[-1].split(","))
    return GrowthChart(
        " ".join(points), latest_x, latest_y, _when(first), _when(last), top, len(heads)
    )


def _when(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@router.get("/log", response_class=HTMLResponse)
def log_page(
    request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> HTMLResponse:
    log = AttestationLog(session)
    head = log.latest_head()
    size = log.tree_size()
    entries = [log.leaf(index) for index in range(size - 1, max(size - 25, 0) - 1, -1)]
    return render(
        request,
        "log.html",
        user,
        head=head,
        entries=entries,
        signed_at=_when(head.timestamp) if head else "",
        public_key=services.signer.public_key.to_base64(),
        tree=tree_picture(size, log.leaf) if size else None,
        growth=growth_chart(log.heads()[-GROWTH_HEADS_SHOWN:]),
    )


@dataclass(frozen=True, slots=True)
class AlertCard:
    """One alert as the alerts pages show it: the copy, the work it copies, the next steps."""

    alert: Alert
    work: Work
    sightings: int
    next_statuses: list[AlertStatus]


def _alert_card(session: Session, user: User, alert: Alert) -> AlertCard:
    return AlertCard(
        alert,
        get_owned_work(session, user, alert.work_id),
        len(sightings_of(session, alert)),
        sorted(ALLOWED_TRANSITIONS.get(alert.status, frozenset())),
    )


@router.get("/alerts", response_class=HTMLResponse, response_model=None)
def alerts_page(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    """The signed-in owner's alerts, grouped by the domain that shows the copies."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    groups = [
        (group.domain, [_alert_card(session, user, alert) for alert in group.alerts])
        for group in alerts_by_domain(session, user)
    ]
    return render(request, "alerts.html", user, groups=groups, score_bar=score_bar_percent)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, response_model=None)
def alert_page(
    alert_id: int, request: Request, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """One alert: the side-by-side picture, every sighting and draft takedown notices."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    card = _alert_card(session, user, owned_alert(session, user, alert_id))
    view = work_certificate_view(session, services.signer, card.work, services.settings.base_url)
    facts = TakedownFacts(
        rights_holder_name=user.display_name,
        rights_holder_email=user.email,
        work_title=card.work.title,
        work_id=view.work_id,
        certificate_log_index=view.log_index,
        certificate_root_hash=view.root_hash,
        certificate_key_id=view.key_id,
        evidence_sha256=card.alert.evidence_sha256,
        evidence_log_index=card.alert.log_index,
        infringing_page_url=card.alert.page_url,
        infringing_image_url=card.alert.image_url,
        first_seen_at=card.alert.first_seen_at,
    )
    return render(
        request,
        "alert.html",
        user,
        card=card,
        sightings=sightings_of(session, card.alert),
        score_bar=score_bar_percent,
        notices=[
            ("United States, DMCA", dmca_notice(facts)),
            ("China, platform complaint", chinese_platform_complaint(facts)),
        ],
    )


@router.post("/alerts/{alert_id}/status", response_model=None)
def alert_status_form(
    alert_id: int,
    user: OptionalUser,
    session: SessionDep,
    status: Annotated[AlertStatus, Form()],
    back_to: Annotated[Literal["list", "alert"], Form()] = "list",
) -> Response:
    """Triage from a page: move the alert on, then show where the form was."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    change_status(session, user, alert_id, status)
    target = f"/alerts/{alert_id}" if back_to == "alert" else f"/alerts#alert-{alert_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/alerts/{alert_id}/side-by-side.png")
def alert_side_by_side(
    alert_id: int, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """The original beside the copy, as captured in the alert's evidence bundle."""
    if user is None:
        raise NotFound(f"alert {alert_id} not found")
    bundle = evidence_bundle(session, user, alert_id, app_monitor(request.app).evidence_blobs)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        picture = archive.read(SIDE_BY_SIDE_NAME)
    return Response(
        picture, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


@dataclass(frozen=True, slots=True)
class ShareSlice:
    """One party's share of the parties' pool as a segment of a 0-100 bar."""

    party_id: str
    role: str
    share_bp: int
    start_percent: float

    @property
    def width_percent(self) -> float:
        return self.share_bp / 100

    @property
    def label(self) -> str:
        return f"{self.party_id} ({self.role}) {self.share_bp / 100:g}%"


def share_slices(contract: Contract) -> list[ShareSlice]:
    """The contract's parties laid end to end by share, in contract order."""
    slices: list[ShareSlice] = []
    start = 0.0
    for party in contract.parties:
        slices.append(ShareSlice(party.id, str(party.role), party.share_bp, start))
        start += party.share_bp / 100
    return slices


@router.get("/works/{work_id}/licensing", response_class=HTMLResponse, response_model=None)
def licensing_page(
    work_id: int, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """A work's open license offers and how its active contract splits what they earn."""
    # The registry's lookup comes first: its NotFound is the page's readable 404.
    work = visible_work(session, work_id, user)
    offers = list_open_offers(session, user, work_id)
    version = active_version(session, work_id)
    contract = None if version is None else Contract.model_validate(version.document)
    return render(
        request,
        "licensing.html",
        user,
        work=work,
        offers=offers,
        version=version,
        contract=contract,
        shares=share_slices(contract) if contract else [],
        royalties=owner_royalty_chart(session, user, work),
    )


@dataclass(frozen=True, slots=True)
class RoyaltySegment:
    """One party's part of a report's bar, in SVG units from the chart's top."""

    party: str
    colour: int
    y: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class RoyaltyBar:
    """One sales report as a stack of its parties' amounts."""

    report: RoyaltyReport
    x: float
    width: float
    segments: tuple[RoyaltySegment, ...]
    amounts: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.report.report_id}: {self.report.gross}"


@dataclass(frozen=True, slots=True)
class RoyaltyChart:
    """The royalty history as stacked bars scaled to the largest report, with its legend."""

    bars: tuple[RoyaltyBar, ...]
    parties: tuple[str, ...]
    top_label: str


ROYALTY_CHART_WIDTH: Final = 600.0
ROYALTY_CHART_HEIGHT: Final = 180.0
ROYALTY_BAR_MAX_WIDTH: Final = 60.0


def royalty_chart(reports: Sequence[RoyaltyReport]) -> RoyaltyChart | None:
    """Stack each report's party amounts into a bar as tall as its gross; None with no reports."""
    if not reports:
        return None
    parties = tuple(sorted({party for report in reports for party, _amount in report.amounts}))
    colours = {party: index % 6 for index, party in enumerate(parties)}
    tallest = max(reports, key=lambda report: report.gross.amount_minor)
    scale = ROYALTY_CHART_HEIGHT / max(tallest.gross.amount_minor, 1)
    slot = ROYALTY_CHART_WIDTH / len(reports)
    width = min(slot * 0.7, ROYALTY_BAR_MAX_WIDTH)
    bars: list[RoyaltyBar] = []
    for index, report in enumerate(reports):
        owed = dict(report.amounts)
        segments: list[RoyaltySegment] = []
        bottom = ROYALTY_CHART_HEIGHT
        for party in parties:
            amount = max(owed.get(party, 0), 0)
            if amount == 0:
                continue
            height = amount * scale
            bottom -= height
            money = Money(amount, report.gross.currency)
            segments.append(
                RoyaltySegment(party, colours[party], bottom, height, f"{party} {money}")
            )
        amounts = tuple(
            str(Money(owed[party], report.gross.currency)) if party in owed else "—"
            for party in parties
        )
        x = slot * index + (slot - width) / 2
        bars.append(RoyaltyBar(report, x, width, tuple(segments), amounts))
    return RoyaltyChart(tuple(bars), parties, str(tallest.gross))


def owner_royalty_chart(session: Session, viewer: User | None, work: Work) -> RoyaltyChart | None:
    """The royalty chart for the work's owner; None for anyone else or before any report."""
    if viewer is None or work.id is None or viewer.id != work.owner_id:
        return None
    return royalty_chart(sales_history(session, viewer, work.id))
