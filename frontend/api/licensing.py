"""Licensing endpoints: contracts and consent, offers, grants, sales reports, license checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from frontend.deps import CurrentUser, OptionalUser, ServicesDep, SessionDep
from licensing.contract import MAX_DOCUMENT_BYTES, parse_contract_text
from licensing.errors import InvalidContractError, InvalidSaleEventError
from licensing.models import ContractVersion, LicenseGrant, LicenseOffer
from licensing.reports import MAX_CSV_BYTES, parse_sales_csv
from licensing.repository import (
    certified_grant,
    consented_parties,
    get_grant,
    get_version,
    party_grant_or_none,
    sales_line_of_grant,
    work_of_version,
)
from licensing.schemas import (
    AllocationPublic,
    ConsentCreate,
    ContractVersionPublic,
    GrantCreate,
    GrantPublic,
    LicenseCheck,
    LicenseProof,
    OfferCreate,
    OfferPublic,
    OwedPublic,
    SalesLinePublic,
    SalesReportCreate,
    SalesReportPublic,
)
from licensing.service.contracts import consent_to_version, list_versions, propose_contract_version
from licensing.service.grants import cancel_grant, take_license
from licensing.service.license_check import licensed_grants
from licensing.service.offers import list_open_offers, publish_offer, withdraw_offer
from licensing.service.sales import (
    ReportedLine,
    ReportOutcome,
    SalesLine,
    sales_line_openings,
    submit_sales_report,
)
from registry.bounds import RecordId
from registry.certificates import issue_certificate
from registry.log.store import AttestationLog
from registry.models import persisted_id
from registry.schemas import CertificatePublic
from settlement.service.payments import activation_openings
from settlement.service.royalties import post_royalties

API_PREFIX = "/api/v1"


router = APIRouter(tags=["licensing"])

_CONTRACT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_CSV_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
}


async def _text_body(request: Request, limit: int, what: str) -> str:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidSaleEventError(f"the {what} exceeds {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSaleEventError(f"the {what} is not UTF-8 text") from None


def _version_public(session: Session, version: ContractVersion) -> ContractVersionPublic:
    version_id = persisted_id(version)
    return ContractVersionPublic(
        id=version_id,
        work_id=persisted_id(work_of_version(session, version)),
        contract_id=str(version.document["contract_id"]),
        version=version.version,
        status=version.status,
        document_sha256=version.document_sha256,
        document=version.document,
        consented_parties=consented_parties(session, version_id),
        activated_at=version.activated_at,
    )


def _offer_public(offer: LicenseOffer) -> OfferPublic:
    return OfferPublic.model_validate(offer, from_attributes=True)


def _allocations(execution: dict[str, Any]) -> list[AllocationPublic]:
    return [AllocationPublic.model_validate(line) for line in execution["allocations"]]


def certificate_url(grant_id: int) -> str:
    return f"{API_PREFIX}/grants/{grant_id}/certificate"


def _grant_public(grant: LicenseGrant) -> GrantPublic:
    grant_id = persisted_id(grant)
    return GrantPublic(
        id=grant_id,
        offer_id=grant.offer_id,
        work_id=grant.work_id,
        licensee_id=grant.licensee_id,
        sale_type=grant.sale_type,
        status=grant.status,
        gross_minor=grant.gross_minor,
        currency=grant.currency,
        allocations=_allocations(grant.execution),
        log_index=grant.log_index,
        activation_log_index=grant.activation_log_index,
        certificate_url=certificate_url(grant_id),
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
        activated_at=grant.activated_at,
    )


def _line_public(row: ReportedLine) -> SalesLinePublic:
    return SalesLinePublic(
        line_number=row.line_number,
        units=row.units,
        net_revenue_minor=row.net_revenue_minor,
        channel=row.channel,
        territory=row.territory,
        royalty_minor=row.gross_minor,
        allocations=_allocations(row.execution),
        log_index=row.log_index,
        certificate_url=f"{API_PREFIX}/grants/{row.grant_id}/sales-lines/{row.id}/certificate",
    )


def _report_public(outcome: ReportOutcome, response: Response) -> SalesReportPublic:
    response.status_code = 200 if outcome.replayed else 201
    return SalesReportPublic(
        grant_id=outcome.grant_id,
        report_id=outcome.report_id,
        corrects=outcome.corrects_report_id,
        replayed=outcome.replayed,
        currency=outcome.royalties.currency,
        royalties_minor=outcome.royalties.amount_minor,
        owed=[OwedPublic(party=party, amount_minor=amount) for party, amount in outcome.owed],
        lines=[_line_public(row) for row in outcome.rows],
    )


@router.post("/works/{work_id}/contract-versions", status_code=201, openapi_extra=_CONTRACT_BODY)
async def propose_version(
    work_id: RecordId, request: Request, user: CurrentUser, session: SessionDep
) -> ContractVersionPublic:
    """Propose the next version of a work's contract, as a JSON or YAML document."""
    try:
        text = await _text_body(request, MAX_DOCUMENT_BYTES, "contract document")
    except InvalidSaleEventError as error:
        raise InvalidContractError(f"invalid contract: {error}") from None

    def propose() -> ContractVersionPublic:
        # Parsing and the database run in a worker thread, never on the event loop: on SQLite
        # the first statement waits for the write lock, and every other request would wait too.
        contract = parse_contract_text(text)
        version = propose_contract_version(session, user, contract, for_work=work_id)
        return _version_public(session, version)

    return await run_in_threadpool(propose)


@router.get("/works/{work_id}/contract-versions")
def versions_of_work(
    work_id: RecordId, user: CurrentUser, session: SessionDep
) -> list[ContractVersionPublic]:
    return [_version_public(session, v) for v in list_versions(session, user, work_id)]


@router.get("/contract-versions/{version_id}")
def read_version(
    version_id: RecordId, user: CurrentUser, session: SessionDep
) -> ContractVersionPublic:
    return _version_public(session, get_version(session, user, version_id))


@router.post("/contract-versions/{version_id}/consents", status_code=201)
def consent(
    version_id: RecordId,
    body: ConsentCreate,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> ContractVersionPublic:
    """Consent for a party you act for; the version is active once every party consented."""
    log = AttestationLog(session, services.signer)
    version = consent_to_version(session, user, version_id, body.party_id, log)
    return _version_public(session, version)


@router.post("/works/{work_id}/offers", status_code=201)
def create_offer(
    work_id: RecordId, body: OfferCreate, user: CurrentUser, session: SessionDep
) -> OfferPublic:
    return _offer_public(publish_offer(session, user, work_id, body.sale_type, body.package))


@router.get("/works/{work_id}/offers")
def offers_on_work(work_id: RecordId, user: OptionalUser, session: SessionDep) -> list[OfferPublic]:
    """The open offers on a public work (or on your own)."""
    return [_offer_public(offer) for offer in list_open_offers(session, user, work_id)]


@router.delete("/offers/{offer_id}")
def remove_offer(offer_id: RecordId, user: CurrentUser, session: SessionDep) -> OfferPublic:
    return _offer_public(withdraw_offer(session, user, offer_id))


@router.post("/offers/{offer_id}/grants", status_code=201)
def accept_offer(
    offer_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    body: GrantCreate | None = None,
) -> GrantPublic:
    """Take a license under an offer (brands only); wholesale and buyout await payment."""
    log = AttestationLog(session, services.signer)
    units = body.units if body is not None else 0
    grant, _ = take_license(session, user, offer_id, log, units)
    return _grant_public(grant)


@router.delete("/grants/{grant_id}")
def withdraw_grant(grant_id: RecordId, user: CurrentUser, session: SessionDep) -> GrantPublic:
    """Cancel your own grant while it awaits payment; a buyout's reservation of the work ends."""
    return _grant_public(cancel_grant(session, user, grant_id))


@router.get("/grants/{grant_id}")
def read_grant(grant_id: RecordId, user: CurrentUser, session: SessionDep) -> GrantPublic:
    return _grant_public(get_grant(session, user, grant_id))


@router.get("/grants/{grant_id}/certificate")
def grant_certificate(
    grant_id: RecordId, user: OptionalUser, session: SessionDep, services: ServicesDep
) -> CertificatePublic:
    """The grant's certificate, checked offline like a registration's; public like the log.

    It proves the leaf that made the grant active: the settled payment of a paid grant, the grant
    itself otherwise. Its parties' copy opens that leaf's commitments (price, split, licensee
    domain; or gross, fee, split and journal entry digest); anyone else's opens none.
    """
    grant, index = certified_grant(session, grant_id)
    party = party_grant_or_none(session, user, grant_id) is not None
    log = AttestationLog(session, services.signer)
    return CertificatePublic.model_validate(
        issue_certificate(
            log, index, openings=activation_openings(session, grant) if party else None
        )
    )


@router.get("/grants/{grant_id}/sales-lines/{line_id}/certificate")
def sales_line_certificate(
    grant_id: RecordId,
    line_id: RecordId,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> CertificatePublic:
    """A sales line's split certificate for the grant's parties, opening its figures."""
    line, index = sales_line_of_grant(session, user, grant_id, line_id)
    log = AttestationLog(session, services.signer)
    return CertificatePublic.model_validate(
        issue_certificate(log, index, openings=sales_line_openings(session, line))
    )


@router.post("/grants/{grant_id}/sales-reports")
def report_sales_json(
    grant_id: RecordId,
    body: SalesReportCreate,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
) -> SalesReportPublic:
    """Report retail sales; the same report id again answers the stored result (200)."""
    lines = [SalesLine.of(line, body.currency) for line in body.lines]
    outcome = submit_sales_report(
        session,
        user,
        grant_id,
        report_id=body.report_id,
        lines=lines,
        log=AttestationLog(session, services.signer),
        corrects=body.corrects,
    )
    post_royalties(session, outcome)
    return _report_public(outcome, response)


@router.post("/grants/{grant_id}/sales-reports/csv", openapi_extra=_CSV_BODY)
async def report_sales_csv(
    grant_id: RecordId,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    report_id: Annotated[str, Query(min_length=1, max_length=128)],
    currency: Annotated[str, Query(pattern=r"^[A-Z]{3}$")],
    corrects: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> SalesReportPublic:
    """Report retail sales as CSV: units, net_revenue or net_revenue_minor, channel, territory."""
    text = await _text_body(request, MAX_CSV_BYTES, "CSV report")

    def submit() -> SalesReportPublic:
        # In a worker thread, like propose_version's: never wait for the write lock on the loop.
        outcome = submit_sales_report(
            session,
            user,
            grant_id,
            report_id=report_id,
            lines=parse_sales_csv(text, currency),
            log=AttestationLog(session, services.signer),
            corrects=corrects,
        )
        post_royalties(session, outcome)
        return _report_public(outcome, response)

    return await run_in_threadpool(submit)


@router.get("/licenses/check")
def check_license(
    work_id: RecordId,
    domain: Annotated[str, Query(min_length=1, max_length=2048, description="domain or URL")],
    session: SessionDep,
) -> LicenseCheck:
    """Whether an organisation owning this domain holds a license to the work, with proofs."""
    grants = licensed_grants(session, work_id, domain)
    return LicenseCheck(
        work_id=work_id,
        domain=domain,
        licensed=bool(grants),
        grants=[
            LicenseProof(
                grant_id=persisted_id(grant),
                sale_type=grant.sale_type,
                status=grant.status,
                granted_at=grant.granted_at,
                certificate_url=certificate_url(persisted_id(grant)),
            )
            for grant in grants
        ],
    )
