"""Response models of the attestation log: the JSON a verifier checks, field for field.

Hashes are lowercase hex SHA-256 (64 characters), signatures and keys standard padded
base64, sizes and timestamps unsigned 64-bit integers: exactly what the signing code parses
back (``SignedTreeHead.from_json``), so a head that validates here also parses there. The
published schema states only the integers' lower bound, as its numbers cannot carry
2**64 - 1 exactly; validation checks the upper one too.

The field order is the order the log has always served; certificates embed the head and
verify offline, so it must not change.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from registry.log.signing import MAX_UINT64

HEX_SHA256 = r"^[0-9a-f]{64}$"
# Padded standard base64 of exactly 32 (a raw Ed25519 key) and 64 bytes (a signature).
BASE64_32_BYTES = r"^[A-Za-z0-9+/]{43}=$"
BASE64_64_BYTES = r"^[A-Za-z0-9+/]{86}==$"
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _fits_64_bits(value: int) -> int:
    if value > MAX_UINT64:
        raise ValueError("must be an unsigned 64-bit integer")
    return value


Uint64 = Annotated[int, Field(ge=0), AfterValidator(_fits_64_bits)]
HexDigest = Annotated[
    str, Field(pattern=HEX_SHA256, description="SHA-256 digest, 64 lowercase hex characters")
]
TreeSize = Annotated[Uint64, Field(description="number of leaves in the tree (unsigned 64-bit)")]
LeafIndex = Annotated[
    Uint64, Field(description="zero-based position of a leaf in the log (unsigned 64-bit)")
]
KeyId = Annotated[
    str,
    Field(
        pattern=HEX_SHA256,
        description="SHA-256 of the raw 32-byte Ed25519 public key, 64 lowercase hex characters",
    ),
]
ProofPath = Annotated[
    list[HexDigest],
    Field(
        max_length=64,
        description="sibling node hashes from the leaf (or old root) up, RFC 9162 order",
    ),
]


class SignedTreeHeadPublic(BaseModel):
    """A tree size and root hash, timestamped and signed by the log's Ed25519 key."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    tree_size: TreeSize
    root_hash: Annotated[
        str,
        Field(
            pattern=HEX_SHA256,
            description="RFC 9162 Merkle tree root (SHA-256), 64 lowercase hex characters",
        ),
    ]
    timestamp: Annotated[
        Uint64, Field(description="when the head was signed, ms since the Unix epoch (UTC)")
    ]
    key_id: KeyId
    signature: Annotated[
        str,
        Field(
            pattern=BASE64_64_BYTES,
            description="Ed25519 signature of the head's canonical 102 bytes, base64",
        ),
    ]


class PublicKeyPublic(BaseModel):
    """The key that verifies the log's tree heads and certificates, in two encodings."""

    key_id: KeyId
    ed25519_base64: Annotated[
        str, Field(pattern=BASE64_32_BYTES, description="the raw 32-byte Ed25519 key, base64")
    ]
    pem: Annotated[str, Field(description="the same key as a SubjectPublicKeyInfo PEM")]


class LeafPublic(BaseModel):
    """One leaf of the log: the event bytes exactly as hashed, and their leaf hash."""

    index: LeafIndex
    leaf_base64: Annotated[
        str,
        Field(pattern=BASE64, description="the leaf bytes (canonical JSON of the event), base64"),
    ]
    leaf_hash: Annotated[
        str,
        Field(
            pattern=HEX_SHA256,
            description="RFC 9162 leaf hash SHA-256(0x00 || leaf), 64 lowercase hex characters",
        ),
    ]
    event_type: Annotated[str, Field(description="the event's kind, e.g. registration, grant")]
    # A string, not a datetime: re-serialising would change how the offset is written.
    created_at: Annotated[
        str, Field(description="when the leaf was appended, ISO 8601 in UTC (offset optional)")
    ]


class InclusionProofPublic(BaseModel):
    """Audit path proving the leaf at ``index`` is in the tree of ``tree_size`` leaves."""

    index: LeafIndex
    tree_size: TreeSize
    proof: ProofPath


class ConsistencyProofPublic(BaseModel):
    """Proof that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``."""

    old_size: TreeSize
    new_size: TreeSize
    proof: ProofPath
