"""The log page: the signed head, the newest leaves, the tree's shape and its growth."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from frontend.charts import growth_chart, timestamp_label, tree_picture
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.pages.rendering import render
from registry.log.store import AttestationLog

GROWTH_HEADS_SHOWN: Final = 60

router = APIRouter(include_in_schema=False)


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
        signed_at=timestamp_label(head.timestamp) if head else "",
        public_key=services.signer.public_key.to_base64(),
        tree=tree_picture(size, log.leaf) if size else None,
        growth=growth_chart(log.heads()[-GROWTH_HEADS_SHOWN:]),
    )
