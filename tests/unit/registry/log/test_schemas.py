"""The log's response models describe exactly the JSON the signing code writes and parses."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from registry.log.errors import TreeHeadFormatError
from registry.log.schemas import (
    ConsistencyProofPublic,
    InclusionProofPublic,
    PublicKeyPublic,
    SignedTreeHeadPublic,
)
from registry.log.signing import LogSigner, SignedTreeHead, sign_tree_head
from registry.log.store import AttestationLog

SIGNER = LogSigner.generate()
ROOT = bytes(range(32))


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
def test_every_signed_head_validates_and_serialises_unchanged(
    tree_size: int, timestamp: int, root_hash: bytes
) -> None:
    document = sign_tree_head(SIGNER, tree_size, root_hash, timestamp).to_json()
    model = SignedTreeHeadPublic.model_validate(document)
    assert model.model_dump(mode="json") == document
    assert list(model.model_dump(mode="json")) == list(document)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", -1),
        ("tree_size", True),
        ("tree_size", "5"),
        ("tree_size", 2**64),
        ("timestamp", 1.0),
        ("root_hash", "00" * 31),
        ("root_hash", "AB" * 32),
        ("root_hash", "zz" * 32),
        ("signature", "not base64!"),
        ("signature", "AAAA"),
        ("key_id", 7),
    ],
)
def test_a_head_the_signing_code_refuses_does_not_validate(field: str, value: object) -> None:
    document: dict[str, object] = {**sign_tree_head(SIGNER, 1, ROOT, 1).to_json(), field: value}
    with pytest.raises(TreeHeadFormatError):
        SignedTreeHead.from_json(document)
    with pytest.raises(ValidationError, match=field):
        SignedTreeHeadPublic.model_validate(document)


def test_a_head_with_an_extra_field_does_not_validate() -> None:
    document = {**sign_tree_head(SIGNER, 1, ROOT, 1).to_json(), "extra": 1}
    with pytest.raises(ValidationError, match="extra"):
        SignedTreeHeadPublic.model_validate(document)


def test_public_key_encodings_fit_the_model() -> None:
    key = SIGNER.public_key
    model = PublicKeyPublic(key_id=key.key_id, ed25519_base64=key.to_base64(), pem=key.to_pem())
    assert model.ed25519_base64 == key.to_base64()
    with pytest.raises(ValidationError, match="ed25519_base64"):
        PublicKeyPublic(key_id=key.key_id, ed25519_base64=key.to_base64()[:-4], pem="")


def test_proofs_of_a_real_log_fit_the_models(log: AttestationLog) -> None:
    log.append([f"leaf {n}".encode() for n in range(13)])
    for index in range(13):
        nodes = [node.hex() for node in log.inclusion_proof(index, 13)]
        assert InclusionProofPublic(index=index, tree_size=13, proof=nodes).proof == nodes
    nodes = [node.hex() for node in log.consistency_proof(5, 13)]
    assert ConsistencyProofPublic(old_size=5, new_size=13, proof=nodes).proof == nodes
    with pytest.raises(ValidationError, match="proof"):
        InclusionProofPublic(index=0, tree_size=13, proof=["AB" * 32])
