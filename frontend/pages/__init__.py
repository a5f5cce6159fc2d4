"""Server-rendered pages; each view calls a service and renders a template, nothing more.

One module per domain, each with its own router; `router` combines them for the app. Rendering
and the error page live in `rendering`, chart layouts in `frontend.charts`.
"""

from __future__ import annotations

from fastapi import APIRouter

from frontend.pages import (
    accounts,
    cases,
    disputes,
    licensing,
    log,
    market,
    money,
    monitoring,
    notifications,
    search,
    verification,
    works,
)

router = APIRouter(include_in_schema=False)
for domain in (
    accounts,
    market,
    works,
    search,
    log,
    monitoring,
    notifications,
    verification,
    cases,
    disputes,
    licensing,
    money,
):
    router.include_router(domain.router)
