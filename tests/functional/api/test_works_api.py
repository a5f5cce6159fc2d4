"""Upload, read and withdraw works through the JSON API, as their owner and as a stranger."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from frontend.services import Services
from registry.certificates import issue_certificate, verify_certificate
from registry.log.models import LogLeaf
from registry.log.signing import LogPublicKey
from registry.log.store import AttestationLog
from registry.models import Work
from registry.schemas import CertificateCheckPublic, CertificatePublic
from tests.corpus.hostile import hostile_files
from tests.factories import Account, photo_jpeg, random_png
from tests.support.receivers import SmtpInbox


def upload(client: TestClient, account: Account, data: bytes, name: str = "work.jpg", **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/works", headers=account.headers, files={"file": (name, data)}, data=form
    )


def counts(services: Services) -> tuple[int, int, int]:
    with services.session() as session:
        works = session.exec(select(func.count()).select_from(Work)).one()
        leaves = session.exec(select(func.count()).select_from(LogLeaf)).one()
    blobs = sum(1 for path in services.settings.blob_dir.rglob("*") if path.is_file())
    return works, leaves, blobs


def test_upload_registers_the_work_with_a_log_leaf(client: TestClient, alice: Account) -> None:
    response = upload(client, alice, photo_jpeg("coffee"), title="Morning coffee", tags="cafe,cup")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "registered"
    assert body["log_index"] == 0
    work = client.get(f"/api/v1/works/{body['work_id']}", headers=alice.headers).json()
    assert work["title"] == "Morning coffee"
    assert work["tags"] == ["cafe", "cup"]
    assert work["sha256"] == body["sha256"]


def test_same_owner_same_bytes_is_a_duplicate(
    client: TestClient, alice: Account, services: Services
) -> None:
    first = upload(client, alice, random_png(1)).json()
    second = upload(client, alice, random_png(1)).json()
    assert second["status"] == "duplicate"
    assert second["work_id"] == first["work_id"]
    assert counts(services)[:2] == (1, 1)


def test_another_owners_near_copy_is_a_conflict(
    client: TestClient, alice: Account, bob: Account
) -> None:
    original = upload(client, alice, photo_jpeg("astronaut", quality=95)).json()
    copy = upload(client, bob, photo_jpeg("astronaut", quality=40, max_side=400)).json()
    assert copy["status"] == "conflict"
    assert copy["conflict_with"] == original["work_id"]
    assert copy["conflict"] == (
        f"resembles work {original['work_id']}, registered earlier by another owner"
    )


def test_a_conflict_with_a_private_work_does_not_name_it(
    client: TestClient, alice: Account, bob: Account
) -> None:
    upload(client, alice, photo_jpeg("astronaut", quality=95), visibility="private")
    copy = photo_jpeg("astronaut", quality=40, max_side=400)
    single = upload(client, bob, copy).json()
    (batch,) = client.post(
        "/api/v1/works/batch",
        headers=bob.headers,
        files=[("files", ("again.jpg", photo_jpeg("astronaut", quality=50, max_side=420)))],
    ).json()
    for answer in (single, batch):
        assert answer["status"] == "conflict"
        assert answer["conflict_with"] is None
        assert answer["conflict"] == "conflicts with an earlier registration by another owner"


@pytest.mark.parametrize("verb", ["get", "delete"])
def test_foreign_work_answers_404(
    client: TestClient, alice: Account, bob: Account, verb: str
) -> None:
    work_id = upload(client, alice, random_png(2)).json()["work_id"]
    response = client.request(verb.upper(), f"/api/v1/works/{work_id}", headers=bob.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == f"work {work_id} not found"
    assert client.get(f"/api/v1/works/{work_id}", headers=alice.headers).status_code == 200


def test_foreign_certificate_answers_404(client: TestClient, alice: Account, bob: Account) -> None:
    work_id = upload(client, alice, random_png(3), visibility="private").json()["work_id"]
    assert (
        client.get(f"/api/v1/works/{work_id}/certificate", headers=bob.headers).status_code == 404
    )
    assert (
        client.get(f"/api/v1/works/{work_id}/certificate", headers=alice.headers).status_code == 200
    )


def test_a_served_certificate_is_the_issued_document_and_verifies_offline(
    client: TestClient, services: Services, alice: Account
) -> None:
    upload(client, alice, random_png(5))
    registered = upload(client, alice, random_png(6)).json()
    served = [
        client.get(f"/api/v1/works/{registered['work_id']}/certificate", headers=alice.headers),
        client.get(f"/api/v1/verify/{registered['work_id']}"),
    ]
    with services.session() as session:
        issued = issue_certificate(
            AttestationLog(session, services.signer), registered["log_index"]
        )
    # Byte for byte what the certificate module issues: the model neither reorders nor adds.
    expected = json.dumps(issued, ensure_ascii=False, separators=(",", ":")).encode()
    key = client.get("/api/v1/log/public-key").json()["ed25519_base64"]
    for response in served:
        assert response.status_code == 200
        assert response.content == expected
        certificate = response.json()
        assert CertificatePublic.model_validate(certificate).model_dump(mode="json") == certificate
        check = verify_certificate(certificate, LogPublicKey.from_base64(key))
        assert check.valid, check.reason
        assert check.log_index == registered["log_index"]
    checked = client.post("/api/v1/certificates/verify", json=served[0].json()).json()
    assert CertificateCheckPublic.model_validate(checked) == CertificateCheckPublic(
        valid=True, reason=None, log_index=registered["log_index"], tree_size=2
    )
    # A public work's leaf shows its digests: its certificate has nothing to open.
    assert list(checked) == ["valid", "reason", "log_index", "tree_size", "disclosed"]
    assert checked["disclosed"] == {}


def test_a_withdrawn_work_is_hidden_from_others_and_kept_for_its_owner(
    client: TestClient, alice: Account, bob: Account
) -> None:
    work_id = upload(client, alice, photo_jpeg("coffee", quality=95)).json()["work_id"]
    query = {"file": ("q.jpg", photo_jpeg("coffee", quality=40, max_side=300))}

    def matched(headers: dict[str, str]) -> list[int]:
        found = client.post("/api/v1/match", files=query, headers=headers).json()
        return [match["work_id"] for match in found["matches"]]

    assert client.get(f"/api/v1/verify/{work_id}", headers=bob.headers).status_code == 200
    assert work_id in matched(bob.headers)
    assert client.delete(f"/api/v1/works/{work_id}", headers=alice.headers).status_code == 200
    for stranger in (bob.headers, {}):
        response = client.get(f"/api/v1/verify/{work_id}", headers=stranger)
        assert (response.status_code, response.json()["detail"]) == (
            404,
            f"work {work_id} not found",
        )
        assert work_id not in matched(stranger)
    assert client.get(f"/api/v1/verify/{work_id}", headers=alice.headers).status_code == 200
    owned = client.get(f"/api/v1/works/{work_id}", headers=alice.headers).json()
    assert owned["status"] == "withdrawn"
    assert [work["id"] for work in client.get("/api/v1/works", headers=alice.headers).json()] == [
        work_id
    ]


def test_listing_shows_only_own_works(client: TestClient, alice: Account, bob: Account) -> None:
    upload(client, alice, random_png(4))
    upload(client, bob, random_png(5))
    listed = client.get("/api/v1/works", headers=bob.headers).json()
    assert [work["owner_id"] for work in listed] == [bob.user_id]


def test_anonymous_upload_is_refused(client: TestClient) -> None:
    response = client.post("/api/v1/works", files={"file": ("a.png", random_png(6))})
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]


def test_forged_api_key_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/works", headers={"Authorization": "Bearer cmk_forged"})
    assert response.status_code == 401


def test_cookie_request_without_csrf_token_is_refused(client: TestClient, alice: Account) -> None:
    login = client.post(
        "/api/v1/sessions", json={"email": alice.email, "password": "correct horse battery"}
    )
    assert login.status_code == 200
    refused = client.post("/api/v1/works", files={"file": ("a.png", random_png(7))})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    accepted = client.post(
        "/api/v1/works",
        files={"file": ("a.png", random_png(7))},
        headers={"x-csrf-token": login.json()["csrf_token"]},
    )
    assert accepted.status_code == 201


def test_malformed_metadata_names_the_field(client: TestClient, alice: Account) -> None:
    response = upload(client, alice, random_png(8), created_on="yesterday")
    assert response.status_code == 400
    assert "created_on" in response.json()["detail"] or "isoformat" in response.json()["detail"]


def test_missing_file_field_is_named(client: TestClient, alice: Account) -> None:
    response = client.post("/api/v1/works", headers=alice.headers, data={"title": "x"})
    assert response.status_code == 422
    assert "file" in response.json()["detail"]


def test_every_hostile_file_is_handled_and_refusals_write_nothing(
    client: TestClient, alice: Account, services: Services
) -> None:
    accepted = 0
    for hostile in hostile_files():
        before = counts(services)
        response = upload(client, alice, hostile.data, name=hostile.name)
        if hostile.outcome == "reject":
            assert 400 <= response.status_code < 500, (hostile.name, response.text)
            assert hostile.message.lower() in response.json()["detail"].lower(), hostile.name
            assert counts(services) == before, f"{hostile.name} left something behind"
        else:
            assert response.status_code == 201, (hostile.name, response.text)
            accepted += 1
    assert client.get("/healthz").json() == {"status": "ok"}
    assert accepted > 0


def test_a_brand_creates_an_organisation_with_its_domain(
    mailing_client: TestClient, inbox: SmtpInbox
) -> None:
    from tests.factories import make_account

    client = mailing_client
    brand = make_account(client, "buyer@brand.example", roles=["brand"], inbox=inbox)
    created = client.post(
        "/api/v1/organisations",
        json={"name": "Brand Ltd", "domain": "Shop.Brand.Example."},
        headers=brand.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["domain"] == "shop.brand.example"
    assert created.json()["domain_verified"] is False
    assert [
        o["name"] for o in client.get("/api/v1/organisations", headers=brand.headers).json()
    ] == ["Brand Ltd"]


@pytest.mark.parametrize(
    "domain", ["https://brand.example/", "brand", "10.0.0.1", "-bad.example", "a b.example"]
)
def test_organisation_domains_must_be_host_names(
    mailing_client: TestClient, inbox: SmtpInbox, domain: str
) -> None:
    from tests.factories import make_account

    client = mailing_client
    brand = make_account(client, "buyer@brand.example", roles=["brand"], inbox=inbox)
    response = client.post(
        "/api/v1/organisations", json={"name": "Brand", "domain": domain}, headers=brand.headers
    )
    assert response.status_code == 400
    assert "not a domain name" in response.json()["detail"]


def test_only_brands_create_organisations(client: TestClient, alice: Account) -> None:
    response = client.post("/api/v1/organisations", json={"name": "X"}, headers=alice.headers)
    assert response.status_code == 403
    assert "brand" in response.json()["detail"]


def test_a_revoked_api_key_stops_working_and_others_keys_are_not_found(
    client: TestClient, alice: Account, bob: Account
) -> None:
    (key,) = client.get("/api/v1/api-keys", headers=alice.headers).json()
    assert alice.api_key not in str(key)
    assert key["revoked_at"] is None
    assert client.delete(f"/api/v1/api-keys/{key['id']}", headers=bob.headers).status_code == 404
    assert client.get("/api/v1/works", headers=alice.headers).status_code == 200
    revoked = client.delete(f"/api/v1/api-keys/{key['id']}", headers=alice.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = client.get("/api/v1/works", headers=alice.headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
