"""Licensing pages: a work's offers and split, the contract form and its live split preview,
the co-creators' consent inbox, and publishing and withdrawing offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from frontend.charts import RoyaltyChart, royalty_chart, share_slices
from frontend.contract_form import (
    AI_TRAINING,
    CURRENCIES,
    RETAIL_KINDS,
    ROLES,
    ContractForm,
    read_contract_form,
)
from frontend.deps import OptionalUser, ServicesDep, SessionDep
from frontend.i18n import format_money, gettext_for, locale_for
from frontend.pages.rendering import render
from frontend.pages.return_to import to_sign_in
from frontend.services import Services
from licensing import repository
from licensing.contract import Contract, parse_contract_data
from licensing.engine import Buyout, Execution, RetailSale, SaleEvent, WholesalePurchase
from licensing.errors import LicensingError
from licensing.money import Money
from licensing.references import account_reference
from licensing.repository import active_version
from licensing.service.contracts import (
    consent_to_version,
    decline_version,
    invite_parties,
    next_version,
    propose_contract_version,
    simulate_sale,
)
from licensing.service.offers import list_open_offers, publish_offer, withdraw_offer
from licensing.service.royalties import sales_history
from registry.bounds import RecordId
from registry.db import unit_of_work
from registry.errors import InvalidUpload
from registry.log.store import AttestationLog
from registry.models import User, Work, persisted_id
from registry.notifications.texts import MAX_SUBJECT, one_line
from registry.repository import get_owned_work, visible_work

router = APIRouter(include_in_schema=False)

SAMPLE_UNITS: Final = 100
SAMPLE_UNIT_PRICE: Final = "20"
FORM_ROWS: Final = {"party": 4, "tier": 2, "package": 2}


@router.get("/works/{work_id}/licensing", response_class=HTMLResponse, response_model=None)
def licensing_page(
    work_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """A work's open offers and how its active contract splits what they earn; for its owner,
    the contract's drafts and the forms to publish and withdraw offers."""
    # The registry's lookup comes first: its NotFound is the page's readable 404.
    work = visible_work(session, work_id, user)
    offers = list_open_offers(session, user, work_id)
    version = active_version(session, work_id)
    contract = None if version is None else Contract.model_validate(version.document)
    owner = user is not None and user.id == work.owner_id
    drafts = (
        [
            (draft, repository.consented_parties(session, persisted_id(draft)))
            for draft in repository.versions_of_work(session, work_id)
            if draft.status == "draft"
        ]
        if owner
        else []
    )
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
        owner=owner,
        drafts=drafts,
        packages=[package.id for package in contract.wholesale.packages]
        if contract and contract.wholesale
        else [],
    )


def owner_royalty_chart(session: Session, viewer: User | None, work: Work) -> RoyaltyChart | None:
    """The royalty chart for the work's owner; None for anyone else or before any report."""
    if viewer is None or work.id is None or viewer.id != work.owner_id:
        return None
    return royalty_chart(sales_history(session, viewer, work.id))


# The contract form.


def _form_values(form: FormData) -> dict[str, list[str]]:
    return {key: [str(value) for value in form.getlist(key)] for key in form}


def _default_values(user: User) -> dict[str, list[str]]:
    return {
        "party_email": [user.email],
        "party_role": ["creator"],
        "party_share": ["100"],
        "currency": ["USD"],
        "ai_training": ["not_allowed"],
        "retail_kind": ["rate"],
        "retail_rate": ["8"],
    }


def _contract_form_page(
    request: Request,
    user: User,
    work: Work,
    values: dict[str, list[str]],
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "contract_form.html",
        user,
        status_code=status_code,
        work=work,
        values=values,
        problems=problems or {},
        rows=FORM_ROWS,
        currencies=CURRENCIES,
        roles=ROLES,
        ai_choices=AI_TRAINING,
        retail_kinds=RETAIL_KINDS,
    )


@router.get("/works/{work_id}/contract", response_class=HTMLResponse, response_model=None)
def contract_form(
    work_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    if user is None:
        return to_sign_in(request)
    work = get_owned_work(session, user, work_id)
    return _contract_form_page(request, user, work, _default_values(user))


async def _posted_form(request: Request) -> FormData:
    return await request.form()


# The form is read on the event loop; the endpoints taking it run in a worker thread, since on
# SQLite their first statement may wait for the write lock.
PostedForm = Annotated[FormData, Depends(_posted_form)]


def _read_form(
    request: Request, form: FormData, session: Session, user: User, work_id: int
) -> tuple[ContractForm, dict[str, list[str]]]:
    contract_key, version = next_version(session, user, work_id)
    read = read_contract_form(
        form,
        work_id=work_id,
        contract_key=contract_key,
        version=version,
        gettext=gettext_for(request),
    )
    return read, _form_values(form)


@router.post("/works/{work_id}/contract/preview", response_model=None)
def contract_preview(
    work_id: RecordId, request: Request, form: PostedForm, user: OptionalUser, session: SessionDep
) -> Response:
    """The form's problems, or the engine's split of the sample sale, for the page's script."""
    if user is None:
        return to_sign_in(request)
    read, values = _read_form(request, form, session, user, work_id)
    if read.draft is None:
        return JSONResponse({"problems": read.problems, "split": None})
    contract = read.draft.contract()
    try:
        event = _sample_event(contract, values)
        split = _split_view(request, contract, simulate_sale(session, contract, event))
    except LicensingError as error:
        return JSONResponse(
            {"problems": {"sample": error.translated(gettext_for(request))}, "split": None}
        )
    return JSONResponse({"problems": {}, "split": split})


def _first(values: dict[str, list[str]], key: str, default: str = "") -> str:
    found = values.get(key) or [default]
    return found[0].strip() or default


def _sample_event(contract: Contract, values: dict[str, list[str]]) -> SaleEvent:
    """The sale the preview splits: the one asked for, else the first the contract prices."""
    offered = contract.sale_types()
    kind = _first(values, "sample_type", offered[0])
    kind = kind if kind in offered else offered[0]
    units_text = _first(values, "sample_units", str(SAMPLE_UNITS))
    units = int(units_text) if units_text.isdigit() and int(units_text) > 0 else SAMPLE_UNITS
    if kind == "retail":
        price = Money.parse(_first(values, "sample_price", SAMPLE_UNIT_PRICE), contract.currency)
        return RetailSale(units=units, unit_price=price)
    if kind == "wholesale" and contract.wholesale and contract.wholesale.packages:
        return WholesalePurchase(package=contract.wholesale.packages[0].id)
    return Buyout()


def _sale_label(kind: str, gettext: Callable[[str], str]) -> str:
    return {
        "retail": gettext("retail"),
        "wholesale": gettext("wholesale"),
        "buyout": gettext("buyout"),
    }.get(kind, kind)


def _role_label(role: str, gettext: Callable[[str], str]) -> str:
    return {
        "creator": gettext("creator"),
        "co_creator": gettext("co-creator"),
        "rights_holder": gettext("rights holder"),
        "agent": gettext("agent"),
        "platform": gettext("platform"),
    }.get(role, role)


@dataclass(frozen=True, slots=True)
class SplitLine:
    label: str
    amount: str
    percent: float


def _split_view(request: Request, contract: Contract, execution: Execution) -> dict[str, Any]:
    """The execution as the page draws it: each line's party, amount and part of the gross."""
    _ = gettext_for(request)
    locale = locale_for(request)
    accounts = {party.id: party for party in contract.parties}
    gross = execution.gross.amount_minor
    lines = []
    for allocation in execution.allocations:
        party = accounts.get(allocation.party)
        who = (
            f"{party.account.removeprefix('acct:')} ({_role_label(party.role, _)})"
            if party
            else _("licensee (advance recouped)")
            if allocation.party == "licensee"
            else allocation.party
        )
        lines.append(
            SplitLine(
                who,
                format_money(allocation.amount, locale),
                round(100 * allocation.amount.amount_minor / gross, 2) if gross else 0.0,
            )
        )
    return {
        "title": _("A %(sale)s sale of %(gross)s is split:")
        % {
            "sale": _sale_label(execution.sale_type, _),
            "gross": format_money(execution.gross, locale),
        },
        "lines": [_line(line) for line in lines],
    }


def _line(line: SplitLine) -> dict[str, Any]:
    return {"label": line.label, "amount": line.amount, "percent": line.percent}


@router.post("/works/{work_id}/contract", response_class=HTMLResponse, response_model=None)
def propose_contract(
    work_id: RecordId,
    request: Request,
    form: PostedForm,
    user: OptionalUser,
    services: ServicesDep,
) -> Response:
    """Propose the form's terms as the work's next contract version, invite the other parties,
    and take the owner to their own consent."""
    if user is None:
        return to_sign_in(request)
    link_base = services.settings.base_url.rstrip("/")
    with unit_of_work(services.session) as session:
        work = get_owned_work(session, user, work_id)
        read, values = _read_form(request, form, session, user, work_id)
        if read.draft is None:
            return _contract_form_page(request, user, work, values, read.problems, 422)
        version = propose_contract_version(session, user, read.draft.contract(), for_work=work_id)
        version_id = persisted_id(version)
        link = f"{link_base}/consents/{version_id}"
        unregistered = invite_parties(session, user, version, link)
        title = work.title
    _mail_invitations(services, user, unregistered, title, link)
    return RedirectResponse(f"/consents/{version_id}", status_code=303)


def _mail_invitations(
    services: Services, owner: User, addresses: list[str], title: str, link: str
) -> None:
    """Mail the parties who have no account yet, once their draft is committed.

    A person without an account has no stored language: the inviter's is the best guess.
    """
    mailer = services.mailer()
    if mailer is None:
        return
    _ = services.mail_translate(owner.locale)
    for address in addresses:
        words = {"owner": owner.display_name, "email": owner.email, "title": title}
        message = EmailMessage()
        message["From"] = services.settings.smtp_from
        message["To"] = address
        message["Subject"] = one_line(
            _("%(owner)s invites you to co-sign the contract of “%(title)s”") % words,
            MAX_SUBJECT,
        )
        body = _(
            "%(owner)s (%(email)s) names you as a party to the licensing contract of "
            "“%(title)s” on Copymark. Create an account with this address (%(address)s), then "
            "read the terms and the split and consent or decline: %(link)s"
        )
        message.set_content(body % {**words, "address": address, "link": link} + "\n")
        try:
            mailer.send(message)
        except OSError:
            continue


# The consent inbox.


@router.get("/consents", response_class=HTMLResponse, response_model=None)
def consent_inbox(request: Request, user: OptionalUser, session: SessionDep) -> Response:
    """The drafts this account is a party to and has not answered yet."""
    if user is None:
        return to_sign_in(request)
    pending = [
        (version, party_id, repository.work_of_version(session, version))
        for version, party_id in repository.drafts_awaiting(session, account_reference(user))
    ]
    return render(request, "consents.html", user, pending=pending)


@router.get("/consents/{version_id}", response_class=HTMLResponse, response_model=None)
def consent_page(
    version_id: RecordId, request: Request, user: OptionalUser, session: SessionDep
) -> Response:
    """A draft's terms and the split of a sample sale of each kind it prices, to consent or
    decline for the party this account acts for."""
    if user is None:
        return to_sign_in(request)
    version = repository.get_version(session, user, version_id)
    contract = parse_contract_data(version.document)
    work = repository.work_of_version(session, version)
    consented = repository.consented_parties(session, version_id)
    declined = repository.declined_parties(session, version_id)
    mine = [party.id for party in contract.parties if party.account == account_reference(user)]
    splits = []
    for kind in contract.sale_types():
        event = _sample_event(contract, {"sample_type": [kind]})
        splits.append(_split_view(request, contract, simulate_sale(session, contract, event)))
    return render(
        request,
        "consent.html",
        user,
        version=version,
        contract=contract,
        work=work,
        consented=consented,
        declined=declined,
        mine=[party for party in mine if party not in consented and party not in declined],
        splits=splits,
        role_label=lambda role: _role_label(role, gettext_for(request)),
        money=lambda amount: format_money(
            Money(amount.amount_minor, amount.currency), locale_for(request)
        ),
    )


@router.post("/consents/{version_id}", response_model=None)
def answer_consent(
    version_id: RecordId,
    user: OptionalUser,
    session: SessionDep,
    services: ServicesDep,
    party_id: Annotated[str, Form(max_length=128)],
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if decision == "consent":
        consent_to_version(
            session, user, version_id, party_id, AttestationLog(session, services.signer)
        )
    elif decision == "decline":
        decline_version(session, user, version_id, party_id, reason)
    else:
        raise InvalidUpload("answer with 'consent' or 'decline'")
    return RedirectResponse(f"/consents/{version_id}", status_code=303)


# Offers.


@router.post("/works/{work_id}/offers", response_model=None)
def publish_offer_form(
    work_id: RecordId,
    user: OptionalUser,
    session: SessionDep,
    sale_type: Annotated[str, Form(max_length=20)],
    package: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    publish_offer(session, user, work_id, sale_type, package or None)
    return RedirectResponse(f"/works/{work_id}/licensing#offers", status_code=303)


@router.post("/offers/{offer_id}/withdraw", response_model=None)
def withdraw_offer_form(offer_id: RecordId, user: OptionalUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    offer = withdraw_offer(session, user, offer_id)
    return RedirectResponse(f"/works/{offer.work_id}/licensing#offers", status_code=303)
