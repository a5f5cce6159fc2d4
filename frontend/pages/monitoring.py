"""Alert pages: the owner's alerts by domain, one alert with its notices, triage, evidence."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from frontend.charts import score_bar_percent
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.pages.rendering import render
from frontend.services import Services
from registry.bounds import RecordId
from registry.enforcement.repository import case_id_of_alert
from registry.errors import NotFound
from registry.models import User, Work, persisted_id
from registry.monitoring.evidence import SIDE_BY_SIDE_NAME
from registry.monitoring.models import Alert, AlertStatus
from registry.monitoring.repository import owned_alert, sightings_of
from registry.monitoring.service import (
    ALLOWED_TRANSITIONS,
    alerts_by_domain,
    change_status,
    evidence_bundle,
    notices_allowed,
)
from registry.notifications.takedown import (
    RenderedNotice,
    TakedownFacts,
    chinese_platform_complaint,
    dmca_notice,
)
from registry.repository import get_owned_work
from registry.service import work_certificate_view

router = APIRouter(include_in_schema=False)


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
        (
            group.domain,
            [_alert_card(session, user, alert) for alert in group.alerts],
            _enforceable(session, group.alerts),
        )
        for group in alerts_by_domain(session, user)
    ]
    return render(request, "alerts.html", user, groups=groups, score_bar=score_bar_percent)


def _enforceable(session: Session, alerts: list[Alert]) -> list[int]:
    """The confirmed alerts that no case enforces yet: one case on the site can take them all."""
    return [
        persisted_id(alert)
        for alert in alerts
        if alert.status == AlertStatus.CONFIRMED
        and case_id_of_alert(session, persisted_id(alert)) is None
    ]


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, response_model=None)
def alert_page(
    alert_id: RecordId,
    request: Request,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """One alert: the side-by-side picture, every sighting and draft takedown notices."""
    if user is None:
        return RedirectResponse("/login", status_code=303)
    card = _alert_card(session, user, owned_alert(session, user, alert_id))
    notices = (
        _takedown_notices(session, services, user, card) if notices_allowed(card.alert) else []
    )
    return render(
        request,
        "alert.html",
        user,
        card=card,
        sightings=sightings_of(session, card.alert),
        score_bar=score_bar_percent,
        notices=notices,
        notices_allowed=notices_allowed(card.alert),
        case_id=case_id_of_alert(session, alert_id),
    )


def _takedown_notices(
    session: Session, services: Services, user: User, card: AlertCard
) -> list[tuple[str, RenderedNotice]]:
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
    return [
        ("United States, DMCA", dmca_notice(facts)),
        ("China, platform complaint", chinese_platform_complaint(facts)),
    ]


@router.post("/alerts/{alert_id}/status", response_model=None)
def alert_status_form(
    alert_id: RecordId,
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
    alert_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> Response:
    """The original beside the copy, as captured in the alert's evidence bundle."""
    if user is None:
        raise NotFound(f"alert {alert_id} not found")
    bundle = evidence_bundle(session, user, alert_id, services.evidence_blobs)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        picture = archive.read(SIDE_BY_SIDE_NAME)
    return Response(
        picture, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )
