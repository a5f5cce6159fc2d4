"""The public attestation log: signed heads, leaves, inclusion and consistency proofs."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Response

from frontend.deps import ServicesDep, SessionDep
from registry.bounds import LogIndex, LogSize
from registry.errors import NotFound
from registry.log.schemas import (
    ConsistencyProofPublic,
    InclusionProofPublic,
    LeafPublic,
    PublicKeyPublic,
    SignedTreeHeadPublic,
)
from registry.log.store import AttestationLog

router = APIRouter(prefix="/log", tags=["attestation log"])

PEM_MEDIA_TYPE = "application/x-pem-file"


@router.get("/public-key")
def public_key(services: ServicesDep) -> PublicKeyPublic:
    key = services.signer.public_key
    return PublicKeyPublic(key_id=key.key_id, ed25519_base64=key.to_base64(), pem=key.to_pem())


@router.get(
    "/key.pem",
    response_class=Response,
    responses={200: {"content": {PEM_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
def public_key_pem(services: ServicesDep) -> Response:
    """The log's Ed25519 key as a SubjectPublicKeyInfo PEM file, for `copymark verify`."""
    return Response(
        services.signer.public_key.to_pem(),
        media_type=PEM_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="key.pem"'},
    )


@router.get("/head")
def latest_head(session: SessionDep) -> SignedTreeHeadPublic:
    head = AttestationLog(session).latest_head()
    if head is None:
        raise NotFound("the log is empty: no tree head has been signed yet")
    return SignedTreeHeadPublic.model_validate(head.to_json())


@router.get("/leaves/{index}")
def leaf(index: LogIndex, session: SessionDep) -> LeafPublic:
    log = AttestationLog(session)
    if not 0 <= index < log.tree_size():
        raise NotFound(f"no leaf at index {index}")
    entry = log.leaf(index)
    return LeafPublic(
        index=index,
        leaf_base64=base64.b64encode(entry.leaf).decode(),
        leaf_hash=entry.leaf_hash.hex(),
        event_type=entry.event_type,
        created_at=entry.created_at.isoformat(),
    )


@router.get("/proofs/inclusion")
def inclusion_proof(
    session: SessionDep,
    index: LogIndex,
    tree_size: LogSize | None = None,
) -> InclusionProofPublic:
    log = AttestationLog(session)
    size = tree_size or log.tree_size()
    proof = log.inclusion_proof(index, size)
    return InclusionProofPublic(index=index, tree_size=size, proof=[node.hex() for node in proof])


@router.get("/proofs/consistency")
def consistency_proof(
    session: SessionDep,
    old_size: LogSize,
    new_size: LogSize | None = None,
) -> ConsistencyProofPublic:
    log = AttestationLog(session)
    size = new_size or log.tree_size()
    proof = log.consistency_proof(old_size, size)
    return ConsistencyProofPublic(
        old_size=old_size, new_size=size, proof=[node.hex() for node in proof]
    )
