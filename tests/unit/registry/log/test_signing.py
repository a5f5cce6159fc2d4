"""Ed25519 key files and signed tree heads."""

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.log.errors import SigningKeyError, TreeHeadFormatError
from registry.log.signing import (
    LogPublicKey,
    LogSigner,
    SignedTreeHead,
    create_signing_key,
    load_signer,
    sign_tree_head,
    tree_head_bytes,
)

ROOT = bytes(range(32))


def test_created_key_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.pem"
    create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_created_key_loads_back_as_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    created = create_signing_key(path)
    assert load_signer(path).public_key == created.public_key


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    first = create_signing_key(path)
    with pytest.raises(SigningKeyError, match="already exists"):
        create_signing_key(path)
    assert load_signer(path).key_id == first.key_id


def test_group_readable_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    create_signing_key(path)
    os.chmod(path, 0o640)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signer(path)


def test_missing_key_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="no signing key"):
        load_signer(tmp_path / "absent.pem")


def test_garbage_key_file_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises(SigningKeyError, match="malformed"):
        load_signer(path)


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    signer = LogSigner.generate()
    import hashlib

    assert signer.key_id == hashlib.sha256(signer.public_key.raw).hexdigest()


def test_public_key_round_trips_through_pem_and_base64() -> None:
    key = LogSigner.generate().public_key
    assert LogPublicKey.from_pem(key.to_pem()) == key
    assert LogPublicKey.from_base64(key.to_base64()) == key


def test_public_key_text_is_read_in_every_published_form() -> None:
    key = LogSigner.generate().public_key
    document = {"key_id": key.key_id, "ed25519_base64": key.to_base64(), "pem": key.to_pem()}
    for text in (key.to_pem(), key.to_base64() + "\n", json.dumps(document)):
        assert LogPublicKey.from_text(text) == key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pem": LogSigner.generate().public_key.to_pem()}, "two different keys"),
        ({"key_id": "00" * 32}, "key id"),
        ({"ed25519_base64": 7}, "no ed25519_base64"),
        ({"pem": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"}, "malformed"),
    ],
)
def test_a_public_key_document_naming_two_keys_is_refused(
    change: dict[str, object], message: str
) -> None:
    key = LogSigner.generate().public_key
    document = {"key_id": key.key_id, "ed25519_base64": key.to_base64(), "pem": key.to_pem()}
    with pytest.raises(SigningKeyError, match=message):
        LogPublicKey.from_text(json.dumps({**document, **change}))


def test_public_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(SigningKeyError, match="32 bytes"):
        LogPublicKey.from_base64("AAAA")


def test_tree_head_bytes_have_the_documented_layout() -> None:
    key_id = "ab" * 32
    data = tree_head_bytes(258, ROOT, 1_700_000_000_123, key_id)
    assert data == (
        b"copymark/tree-head/v1\x00"
        + (258).to_bytes(8, "big")
        + (1_700_000_000_123).to_bytes(8, "big")
        + ROOT
        + bytes.fromhex(key_id)
    )


def test_signed_head_verifies_with_its_key() -> None:
    signer = LogSigner.generate()
    assert sign_tree_head(signer, 5, ROOT, 1000).verify(signer.public_key)


def test_signed_head_fails_with_another_key() -> None:
    head = sign_tree_head(LogSigner.generate(), 5, ROOT, 1000)
    assert not head.verify(LogSigner.generate().public_key)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 6},
        {"timestamp": 1001},
        {"root_hash": bytes(32)},
        {"key_id": "00" * 32},
        {"signature": bytes(64)},
    ],
)
def test_any_edited_head_field_breaks_the_signature(change: dict[str, object]) -> None:
    signer = LogSigner.generate()
    fields = sign_tree_head(signer, 5, ROOT, 1000).to_json()
    edited = SignedTreeHead.from_json(fields)
    edited = SignedTreeHead(
        **{
            "tree_size": edited.tree_size,
            "root_hash": edited.root_hash,
            "timestamp": edited.timestamp,
            "key_id": edited.key_id,
            "signature": edited.signature,
            **change,
        }  # type: ignore[arg-type]
    )
    assert not edited.verify(signer.public_key)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
def test_head_json_round_trips(tree_size: int, timestamp: int, root_hash: bytes) -> None:
    head = sign_tree_head(SIGNER, tree_size, root_hash, timestamp)
    assert SignedTreeHead.from_json(head.to_json()) == head


SIGNER = LogSigner.generate()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", -1),
        ("tree_size", True),
        ("tree_size", "5"),
        ("tree_size", 2**64),
        ("root_hash", "00" * 31),
        ("root_hash", "AB" * 32),
        ("root_hash", "zz" * 32),
        ("signature", "not base64!"),
        ("signature", "AAAA"),
        ("key_id", 7),
    ],
)
def test_malformed_head_json_is_refused(field: str, value: object) -> None:
    document: dict[str, object] = {**sign_tree_head(SIGNER, 1, ROOT, 1).to_json(), field: value}
    with pytest.raises(TreeHeadFormatError, match=field):
        SignedTreeHead.from_json(document)


def test_head_json_with_extra_fields_is_refused() -> None:
    document = {**sign_tree_head(SIGNER, 1, ROOT, 1).to_json(), "extra": 1}
    with pytest.raises(TreeHeadFormatError, match="exactly"):
        SignedTreeHead.from_json(document)
