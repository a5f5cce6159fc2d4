"""The public attestation log API: what it serves must verify with the RFC 9162 algorithms."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from registry.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from registry.log.schemas import (
    ConsistencyProofPublic,
    InclusionProofPublic,
    LeafPublic,
    PublicKeyPublic,
    SignedTreeHeadPublic,
)
from registry.log.signing import LogPublicKey, SignedTreeHead
from tests.factories import Account, random_png


def register_some(client: TestClient, account: Account, count: int) -> None:
    for seed in range(count):
        response = client.post(
            "/api/v1/works", headers=account.headers, files={"file": ("w.png", random_png(seed))}
        )
        assert response.status_code == 201


def test_empty_log_has_no_head(client: TestClient) -> None:
    response = client.get("/api/v1/log/head")
    assert response.status_code == 404
    assert "empty" in response.json()["detail"]


def test_served_leaves_and_proofs_verify_against_the_signed_head(
    client: TestClient, alice: Account
) -> None:
    register_some(client, alice, 5)
    key = LogPublicKey.from_base64(client.get("/api/v1/log/public-key").json()["ed25519_base64"])
    head = SignedTreeHead.from_json(client.get("/api/v1/log/head").json())
    assert head.verify(key)
    assert head.tree_size == 5
    for index in range(5):
        leaf = base64.b64decode(client.get(f"/api/v1/log/leaves/{index}").json()["leaf_base64"])
        proof = client.get(f"/api/v1/log/proofs/inclusion?index={index}&tree_size=5").json()
        nodes = [bytes.fromhex(node) for node in proof["proof"]]
        assert verify_inclusion(leaf_hash(leaf), index, 5, nodes, head.root_hash)
        assert not verify_inclusion(leaf_hash(leaf + b" "), index, 5, nodes, head.root_hash)


def test_consistency_proof_links_an_old_head_to_the_new_one(
    client: TestClient, alice: Account
) -> None:
    register_some(client, alice, 3)
    old = SignedTreeHead.from_json(client.get("/api/v1/log/head").json())
    for seed in range(10, 14):
        client.post(
            "/api/v1/works", headers=alice.headers, files={"file": ("w.png", random_png(seed))}
        )
    new = SignedTreeHead.from_json(client.get("/api/v1/log/head").json())
    proof = client.get(f"/api/v1/log/proofs/consistency?old_size={old.tree_size}").json()
    nodes = [bytes.fromhex(node) for node in proof["proof"]]
    assert verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, nodes)


def test_out_of_range_requests_name_the_problem(client: TestClient, alice: Account) -> None:
    register_some(client, alice, 2)
    assert client.get("/api/v1/log/leaves/7").status_code == 404
    negative = client.get("/api/v1/log/leaves/-1")
    assert negative.status_code == 422
    assert "index: Input should be greater than or equal to 0" in negative.json()["detail"]
    bad = client.get("/api/v1/log/proofs/inclusion?index=5&tree_size=2")
    assert bad.status_code == 422
    assert bad.json()["detail"]
    assert client.get("/api/v1/log/proofs/inclusion?index=x").status_code == 422


def test_served_log_documents_validate_against_their_schema_models(
    client: TestClient, alice: Account
) -> None:
    register_some(client, alice, 3)
    served = {
        "/api/v1/log/public-key": PublicKeyPublic,
        "/api/v1/log/head": SignedTreeHeadPublic,
        "/api/v1/log/leaves/2": LeafPublic,
        "/api/v1/log/proofs/inclusion?index=1": InclusionProofPublic,
        "/api/v1/log/proofs/consistency?old_size=1": ConsistencyProofPublic,
    }
    for url, model in served.items():
        document = client.get(url).json()
        # Same fields, same order, same values: the model describes the JSON, not a variant.
        assert model.model_validate(document).model_dump(mode="json") == document, url
        assert list(model.model_fields) == list(document), url
    head = client.get("/api/v1/log/head").json()
    assert SignedTreeHead.from_json(head).to_json() == head
    key = client.get("/api/v1/log/public-key").json()
    assert LogPublicKey.from_pem(key["pem"]) == LogPublicKey.from_base64(key["ed25519_base64"])
    assert LogPublicKey.from_base64(key["ed25519_base64"]).key_id == key["key_id"]


def test_the_public_key_is_served_as_a_pem_file_naming_the_json_documents_key(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/log/key.pem")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pem-file"
    assert response.text.startswith("-----BEGIN PUBLIC KEY-----\n")
    document = client.get("/api/v1/log/public-key").json()
    assert LogPublicKey.from_pem(response.text).key_id == document["key_id"]
    assert response.text == document["pem"]


def test_the_verification_page_links_the_pem_key_it_tells_you_to_use(
    client: TestClient, alice: Account
) -> None:
    register_some(client, alice, 1)
    page = client.get("/verify/1").text
    assert 'href="/api/v1/log/key.pem"' in page
    assert "--public-key key.pem" in page
