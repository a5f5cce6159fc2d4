"""Contract versions of registered works: a draft becomes active once every party consented.

Each use case takes the session and the acting user and never commits; a consent is appended to
the attestation log in the caller's transaction, so its row never exists without its leaf.
Contracts are attached to registered works, referenced in documents as `work-<id>`
(`licensing.references`); who may see a version or act for a party is decided in
`licensing.repository`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from sqlmodel import Session

from licensing import repository
from licensing.contract import Contract, parse_contract_data
from licensing.engine import CompiledContract, compile_contract
from licensing.errors import InvalidContractError
from licensing.events import ConsentEvent, consent_openings
from licensing.models import ContractConsent, ContractVersion, LicenseContract, VersionStatus
from licensing.references import (
    WORK_REFERENCE_PREFIX,
    may_act_for,
    referenced_work_id,
    work_reference,
)
from registry.accounts.verification import require_verified_email
from registry.errors import Conflict, Forbidden
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.models import User, persisted_id, utcnow
from registry.repository import get_owned_work


def database_resolver(session: Session) -> Callable[[str], Contract | None]:
    """Return a contract resolver reading works' active contracts from the database."""

    def resolve(reference: str) -> Contract | None:
        work_id = referenced_work_id(reference)
        version = repository.active_version(session, work_id) if work_id is not None else None
        return parse_contract_data(version.document) if version is not None else None

    return resolve


def compiled(session: Session, contract: Contract) -> CompiledContract:
    """Compile a contract, resolving its parent works' active contracts from the database."""
    return compile_contract(contract, database_resolver(session))


def active_contract(session: Session, work_id: int) -> tuple[ContractVersion, Contract]:
    """Return a work's active contract version and its document; refuse a work without one."""
    version = repository.active_version(session, work_id)
    if version is None:
        raise Conflict(
            f"work {work_id} has no active contract: every party must consent to a version first"
        )
    return version, parse_contract_data(version.document)


def _canonical_sha256(document: dict[str, object]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def propose_contract_version(
    session: Session, actor: User, contract: Contract, *, for_work: int | None = None
) -> ContractVersion:
    """Store a new draft version of the contract of a work the actor owns.

    The version number must follow the contract's latest; parent works must resolve to
    active contracts without cycles. The draft becomes active once every party consents.
    `for_work`, when given, is the work the request is about: the document must name it.
    """
    reference = contract.subject.work
    work_id = referenced_work_id(reference) if reference is not None else None
    if work_id is None:
        raise InvalidContractError(
            f"subject.work must name a registered work as {WORK_REFERENCE_PREFIX}<id>, "
            f"got {reference or contract.subject.collection!r}"
        )
    if for_work is not None and work_id != for_work:
        raise InvalidContractError(
            f"subject.work is {reference}, but the contract is proposed for "
            f"{work_reference(for_work)}"
        )
    get_owned_work(session, actor, work_id)
    compiled(session, contract)
    record = repository.contract_of_work(session, work_id)
    if record is None:
        taken = repository.contract_with_key(session, contract.contract_id)
        if taken is not None:
            raise Conflict(
                f"contract id {contract.contract_id} already belongs to work {taken.work_id}"
            )
        record = LicenseContract(
            contract_key=contract.contract_id, work_id=work_id, owner_id=persisted_id(actor)
        )
        session.add(record)
        session.flush()
    elif record.contract_key != contract.contract_id:
        raise Conflict(
            f"work {work_id} already has contract {record.contract_key}; "
            f"propose a new version of it instead of {contract.contract_id}"
        )
    latest = repository.latest_version_number(session, persisted_id(record))
    expected = latest + 1
    if contract.version != expected:
        raise Conflict(
            f"contract {contract.contract_id} is at version {latest}: "
            f"propose version {expected}, not {contract.version}"
        )
    document = contract.model_dump(mode="json", exclude_none=True)
    version = ContractVersion(
        contract_id=persisted_id(record),
        version=contract.version,
        document=document,
        document_sha256=_canonical_sha256(document),
        proposed_by=persisted_id(actor),
    )
    session.add(version)
    session.flush()
    return version


def list_versions(session: Session, viewer: User, work_id: int) -> Sequence[ContractVersion]:
    """Return every version of the contract of a work the viewer owns, oldest first."""
    get_owned_work(session, viewer, work_id)
    return repository.versions_of_work(session, work_id)


def consent_to_version(
    session: Session, actor: User, version_id: int, party_id: str, log: AttestationLog
) -> ContractVersion:
    """Record the actor's consent for a party; activate the version once all parties consented."""
    version = repository.get_version(session, actor, version_id)
    if version.status != VersionStatus.DRAFT:
        raise Conflict(
            f"contract version {version_id} is {version.status}; only drafts take consent"
        )
    contract = parse_contract_data(version.document)
    party = next((entry for entry in contract.parties if entry.id == party_id), None)
    if party is None:
        known = ", ".join(entry.id for entry in contract.parties)
        raise InvalidContractError(
            f"contract version {version_id} has no party {party_id!r} (its parties: {known})"
        )
    if not may_act_for(actor, party.account):
        raise Forbidden(f"{actor.email} may not consent for party {party_id!r}")
    # Parties are named by email address, and anyone may sign up with any address: only an
    # account that proved it reads that mail speaks for the party.
    require_verified_email(actor, "consent to a contract")
    given = set(repository.consented_parties(session, version_id))
    if party_id in given:
        raise Conflict(f"party {party_id!r} already consented to version {version_id}")
    consent = ContractConsent(version_id=version_id, party_id=party_id, user_id=persisted_id(actor))
    activates = given | {party_id} >= {entry.id for entry in contract.parties}
    if activates:
        _activate(session, version)
    openings = consent_openings(party_id)
    consent.log_openings = openings_to_json(openings)
    (consent.log_index,) = log.append_events(
        [
            ConsentEvent(
                version_id=version_id,
                contract_id=contract.contract_id,
                contract_version=contract.version,
                work_id=persisted_id(repository.work_of_version(session, version)),
                document_sha256=version.document_sha256,
                user_id=persisted_id(actor),
                activates=activates,
                commitments=commitments_of(openings),
                consented_at=consent.consented_at,
            )
        ]
    )
    session.add(consent)
    session.flush()
    return version


def _activate(session: Session, version: ContractVersion) -> None:
    for superseded in repository.active_versions_of_contract(session, version.contract_id):
        superseded.status = VersionStatus.SUPERSEDED
        session.add(superseded)
    version.status = VersionStatus.ACTIVE
    version.activated_at = utcnow()
    session.add(version)
