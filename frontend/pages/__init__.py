"""Server-rendered pages; each view calls a service and renders a template, nothing more.

One module per domain, each with its own router; `router` combines them for the app. Rendering
and the error page live in `rendering`, chart layouts in `frontend.charts`.
"""

from __future__ import annotations

from fastapi import APIRouter

from frontend.pages import accounts, cases, licensing, log, monitoring, search, works

router = APIRouter(include_in_schema=False)
for domain in (accounts, works, search, log, monitoring, cases, licensing):
    router.include_router(domain.router)
