"""docs/log-format.md's test vector, recomputed from the code: the document cannot drift."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import licensing.events  # noqa: F401 - registers the licensing leaf kinds with parse_event
from registry.log.commitments import Opening, check_openings
from registry.log.events import parse_event
from registry.log.merkle import leaf_hash, root
from registry.log.signing import LogSigner, SignedTreeHead, sign_tree_head, tree_head_bytes

DOCUMENT = Path(__file__).parents[3] / "docs" / "log-format.md"
README = Path(__file__).parents[3] / "README.md"


def vector() -> dict[str, str]:
    block = re.search(r"```text vector\n(.*?)```", DOCUMENT.read_text(), re.DOTALL)
    assert block is not None, "docs/log-format.md has no test vector block"
    return dict(line.split(": ", 1) for line in block.group(1).splitlines())


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return vector()


def leaves(values: dict[str, str]) -> list[bytes]:
    return [values[f"leaf {n}"].encode("utf-8") for n in range(int(values["tree size"]))]


def test_the_documented_key_and_key_id_follow_from_the_seed(values: dict[str, str]) -> None:
    signer = LogSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(values["seed"])))
    assert signer.public_key.raw.hex() == values["public key"]
    assert signer.key_id == values["key id"]
    assert hashlib.sha256(signer.public_key.raw).hexdigest() == values["key id"]


def test_each_documented_leaf_is_the_canonical_encoding_of_its_event(
    values: dict[str, str],
) -> None:
    for leaf in leaves(values):
        assert parse_event(leaf).to_leaf() == leaf


def test_the_documented_openings_open_the_leaves_commitments(values: dict[str, str]) -> None:
    opened = 0
    for key, text in values.items():
        if not key.startswith("opening "):
            continue
        _, index, name = key.split(" ")
        event = parse_event(values[f"leaf {index}"].encode("utf-8"))
        salt = hashlib.sha256(name.encode("utf-8")).digest()
        opening = {name: Opening(salt, json.loads(text))}
        assert check_openings(event.committed(), opening) == {name: json.loads(text)}
        opened += 1
    committed = sum(len(parse_event(leaf).committed()) for leaf in leaves(values))
    assert opened == committed


def test_leaf_hashes_root_head_bytes_and_signature_are_what_the_code_computes(
    values: dict[str, str],
) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves(values)]
    for n, digest in enumerate(hashes):
        assert digest == hashlib.sha256(b"\x00" + leaves(values)[n]).digest()
        assert digest.hex() == values[f"leaf hash {n}"]
    assert root(hashes).hex() == values["root hash"]
    signer = LogSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(values["seed"])))
    size, timestamp = int(values["tree size"]), int(values["timestamp"])
    head = sign_tree_head(signer, size, root(hashes), timestamp)
    signed = tree_head_bytes(size, root(hashes), timestamp, signer.key_id)
    assert signed.hex() == values["signed head bytes"]
    assert len(signed) == 102
    assert base64.b64encode(head.signature).decode() == values["signature"]
    documented = SignedTreeHead(
        size, root(hashes), timestamp, values["key id"], base64.b64decode(values["signature"])
    )
    assert documented.verify(signer.public_key)


def test_the_readme_states_the_head_fields_in_their_signed_order() -> None:
    assert "(size, time, root, key id)" in README.read_text()
