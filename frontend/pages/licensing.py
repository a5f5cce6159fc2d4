"""The licensing page: a work's open offers, its contract's split and, for its owner, royalties."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from frontend.charts import RoyaltyChart, royalty_chart, share_slices
from frontend.deps import OptionalUser, SessionDep
from frontend.pages.rendering import render
from licensing.contract import Contract
from licensing.repository import active_version
from licensing.service.offers import list_open_offers
from licensing.service.royalties import sales_history
from registry.bounds import RecordId
from registry.models import User, Work
from registry.repository import visible_work

router = APIRouter(include_in_schema=False)


@router.get("/works/{work_id}/licensing", response_class=HTMLResponse, response_model=None)
def licensing_page(
    work_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
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


def owner_royalty_chart(session: Session, viewer: User | None, work: Work) -> RoyaltyChart | None:
    """The royalty chart for the work's owner; None for anyone else or before any report."""
    if viewer is None or work.id is None or viewer.id != work.owner_id:
        return None
    return royalty_chart(sales_history(session, viewer, work.id))
