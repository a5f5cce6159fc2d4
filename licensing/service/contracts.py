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
from licensing.engine import CompiledContract, Execution, SaleEvent, compile_contract, execute
from licensing.errors import InvalidContractError
from licensing.events import ConsentEvent, consent_openings
from licensing.models import (
    ContractConsent,
    ContractDecline,
    ContractVersion,
    LicenseContract,
    VersionStatus,
)
from licensing.references import (
    WORK_REFERENCE_PREFIX,
    may_act_for,
    referenced_work_id,
    work_reference,
)
from licensing.terms import restamp_open_offers
from licensing.wording import in_words
from registry.accounts.repository import user_by_email
from registry.accounts.verification import require_verified_email
from registry.errors import Conflict, Forbidden
from registry.log.commitments import commitments_of, openings_to_json
from registry.log.store import AttestationLog
from registry.messages import N_
from registry.models import User, persisted_id, utcnow
from registry.notifications.service import notify
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
            N_("work %(work)s has no active contract: every party must consent to a version first"),
            work=work_id,
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
            N_("subject.work must name a registered work as %(prefix)s<id>, got %(reference)s"),
            prefix=WORK_REFERENCE_PREFIX,
            reference=repr(reference or contract.subject.collection),
        )
    if for_work is not None and work_id != for_work:
        raise InvalidContractError(
            N_("subject.work is %(reference)s, but the contract is proposed for %(work)s"),
            reference=str(reference),
            work=work_reference(for_work),
        )
    get_owned_work(session, actor, work_id)
    compiled(session, contract)
    record = repository.contract_of_work(session, work_id)
    if record is None:
        taken = repository.contract_with_key(session, contract.contract_id)
        if taken is not None:
            raise Conflict(
                N_("contract id %(contract)s already belongs to work %(work)s"),
                contract=contract.contract_id,
                work=taken.work_id,
            )
        record = LicenseContract(
            contract_key=contract.contract_id, work_id=work_id, owner_id=persisted_id(actor)
        )
        session.add(record)
        session.flush()
    elif record.contract_key != contract.contract_id:
        raise Conflict(
            N_(
                "work %(work)s already has contract %(existing)s; "
                "propose a new version of it instead of %(contract)s"
            ),
            work=work_id,
            existing=record.contract_key,
            contract=contract.contract_id,
        )
    latest = repository.latest_version_number(session, persisted_id(record))
    expected = latest + 1
    if contract.version != expected:
        raise Conflict(
            N_(
                "contract %(contract)s is at version %(latest)s: "
                "propose version %(expected)s, not %(version)s"
            ),
            contract=contract.contract_id,
            latest=latest,
            expected=expected,
            version=contract.version,
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
            N_("contract version %(version)s is %(status)s; only drafts take consent"),
            version=version_id,
            status=in_words(version.status),
        )
    contract = parse_contract_data(version.document)
    party = next((entry for entry in contract.parties if entry.id == party_id), None)
    if party is None:
        known = ", ".join(entry.id for entry in contract.parties)
        raise InvalidContractError(
            N_("contract version %(version)s has no party %(party)s (its parties: %(known)s)"),
            version=version_id,
            party=repr(party_id),
            known=known,
        )
    if not may_act_for(actor, party.account):
        raise Forbidden(
            N_("%(email)s may not consent for party %(party)s"),
            email=actor.email,
            party=repr(party_id),
        )
    # Parties are named by email address, and anyone may sign up with any address: only an
    # account that proved it reads that mail speaks for the party.
    require_verified_email(actor, N_("consent to a contract"))
    declined = repository.declined_parties(session, version_id)
    if declined:
        raise Conflict(
            N_(
                "party %(party)s declined contract version %(version)s: it cannot become "
                "active; the work's owner may propose a new version"
            ),
            party=repr(declined[0]),
            version=version_id,
        )
    given = set(repository.consented_parties(session, version_id))
    if party_id in given:
        raise Conflict(
            N_("party %(party)s already consented to version %(version)s"),
            party=repr(party_id),
            version=version_id,
        )
    consent = ContractConsent(version_id=version_id, party_id=party_id, user_id=persisted_id(actor))
    activates = given | {party_id} >= {entry.id for entry in contract.parties}
    if activates:
        _activate(session, version)
        restamp_open_offers(
            session, persisted_id(repository.work_of_version(session, version)), version.document
        )
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


def next_version(session: Session, actor: User, work_id: int) -> tuple[str, int]:
    """The contract id and version number the next proposal for an owned work must carry."""
    get_owned_work(session, actor, work_id)
    record = repository.contract_of_work(session, work_id)
    if record is None:
        return f"{work_reference(work_id)}-terms", 1
    return record.contract_key, repository.latest_version_number(session, persisted_id(record)) + 1


ACCOUNT_PREFIX = "acct:"


def invite_parties(session: Session, actor: User, version: ContractVersion, link: str) -> list[str]:
    """Tell every other party of a new draft, in their inbox and by email; the addresses that
    have no account yet are returned, for the caller to mail once the draft is committed."""
    contract = parse_contract_data(version.document)
    work = repository.work_of_version(session, version)
    without_account: list[str] = []
    for party in contract.parties:
        if not party.account.startswith(ACCOUNT_PREFIX) or may_act_for(actor, party.account):
            continue
        email = party.account.removeprefix(ACCOUNT_PREFIX)
        invitee = user_by_email(session, email)
        if invitee is None:
            without_account.append(email)
            continue
        notify(
            session,
            invitee,
            "contract_invitation",
            N_("%(actor)s asks you to consent to the contract of “%(title)s”"),
            N_(
                "You are party %(party)s (%(role)s, %(share)s%% of the parties' pool) in version "
                "%(version)s of contract %(contract)s for work #%(work)s. Read the terms and the "
                "split, then consent or decline: %(link)s"
            ),
            {"version_id": persisted_id(version), "party_id": party.id, "link": link},
            params={
                "actor": actor.display_name,
                "title": work.title,
                "party": repr(party.id),
                "role": party.role,
                "share": f"{party.share_bp / 100:g}",
                "version": version.version,
                "contract": contract.contract_id,
                "work": persisted_id(work),
                "link": link,
            },
        )
    return without_account


def decline_version(
    session: Session, actor: User, version_id: int, party_id: str, reason: str
) -> ContractDecline:
    """Record that a party refuses a draft; its owner is told, with the reason."""
    version = repository.get_version(session, actor, version_id)
    if version.status != VersionStatus.DRAFT:
        raise Conflict(
            N_("contract version %(version)s is %(status)s; only drafts are declined"),
            version=version_id,
            status=in_words(version.status),
        )
    contract = parse_contract_data(version.document)
    party = next((entry for entry in contract.parties if entry.id == party_id), None)
    if party is None or not may_act_for(actor, party.account):
        raise Forbidden(
            N_("%(email)s may not decline for party %(party)s"),
            email=actor.email,
            party=repr(party_id),
        )
    answered = set(repository.consented_parties(session, version_id)) | set(
        repository.declined_parties(session, version_id)
    )
    if party_id in answered:
        raise Conflict(
            N_("party %(party)s already answered version %(version)s"),
            party=repr(party_id),
            version=version_id,
        )
    decline = ContractDecline(
        version_id=version_id,
        party_id=party_id,
        user_id=persisted_id(actor),
        reason=reason.strip()[:2000],
    )
    session.add(decline)
    work = repository.work_of_version(session, version)
    owner = session.get(User, work.owner_id)
    if owner is not None and owner.id != actor.id:
        notify(
            session,
            owner,
            "contract_declined",
            N_("%(actor)s declined the contract of “%(title)s”"),
            N_(
                "Party %(party)s declined version %(version)s of contract %(contract)s. Their "
                "reason: %(reason)s"
            )
            if decline.reason
            else N_(
                "Party %(party)s declined version %(version)s of contract %(contract)s. Their "
                "reason: (none given)"
            ),
            {"version_id": version_id, "party_id": party_id},
            params={
                "actor": actor.display_name,
                "title": work.title,
                "party": repr(party_id),
                "version": version.version,
                "contract": contract.contract_id,
                "reason": decline.reason,
            },
        )
    session.flush()
    return decline


def simulate_sale(session: Session, contract: Contract, event: SaleEvent) -> Execution:
    """How the contract would split one sale: the engine's own execution, recorded nowhere."""
    return execute(compiled(session, contract), event)
