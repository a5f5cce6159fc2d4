"""The published OpenAPI document types every success response of the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
from fastapi.testclient import TestClient

# Binary downloads carry no JSON schema; they must say what they are instead.
BINARY_MEDIA_TYPES = {
    "application/pdf",
    "application/zip",
    "application/x-pem-file",
    "image/png",
    "text/csv",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}

Schema = dict[str, Any]


def operations(spec: Schema) -> Iterator[tuple[str, Schema]]:
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/") or path == "/healthz":
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    yield f"{method.upper()} {path}", operation


def resolve(spec: Schema, schema: Schema) -> Schema:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix), ref
    return resolve(spec, spec["components"]["schemas"][ref.removeprefix(prefix)])


def is_model(spec: Schema, schema: Schema) -> bool:
    """An object schema that names its properties."""
    resolved = resolve(spec, schema)
    return resolved.get("type") == "object" and bool(resolved.get("properties"))


def untyped(spec: Schema, schema: Schema) -> str | None:
    """Why a response schema says nothing about its JSON, or None when it is typed."""
    resolved = resolve(spec, schema)
    for union in ("anyOf", "oneOf", "allOf"):
        if union in resolved:
            reasons = [untyped(spec, member) for member in resolved[union]]
            return next((reason for reason in reasons if reason), None)
    kind = resolved.get("type")
    if kind is None:
        return f"no type: {resolved}"
    if kind == "array":
        return untyped(spec, resolved.get("items", {}))
    if kind == "object" and not resolved.get("properties"):
        extra = resolved.get("additionalProperties")
        if not isinstance(extra, dict) or not is_model(spec, extra):
            return f"an object without a model: {resolved}"
    return None


def success_responses(operation: Schema) -> list[tuple[str, Schema]]:
    return [(code, r) for code, r in operation["responses"].items() if code.startswith("2")]


def test_every_api_operation_types_its_success_response(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    problems: list[str] = []
    checked = 0
    for name, operation in operations(spec):
        responses = success_responses(operation)
        if not responses:
            problems.append(f"{name}: no 2xx response")
        for code, response in responses:
            checked += 1
            content = response.get("content")
            if code == "204":
                if content:
                    problems.append(f"{name} {code}: a 204 has no body, yet declares {content}")
                continue
            if not content:
                problems.append(f"{name} {code}: no content declared")
                continue
            for media_type, body in content.items():
                if media_type in BINARY_MEDIA_TYPES:
                    continue
                if media_type != "application/json":
                    problems.append(f"{name} {code}: undocumented media type {media_type}")
                    continue
                reason = untyped(spec, body.get("schema", {}))
                if reason:
                    problems.append(f"{name} {code}: {reason}")
    assert checked > 50
    assert not problems, "\n".join(problems)


def test_binary_downloads_declare_their_media_type_only(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    evidence = spec["paths"]["/api/v1/alerts/{alert_id}/evidence.zip"]["get"]
    assert set(evidence["responses"]["200"]["content"]) == {"application/zip"}
    key = spec["paths"]["/api/v1/log/key.pem"]["get"]
    assert set(key["responses"]["200"]["content"]) == {"application/x-pem-file"}


def test_proof_fields_state_their_encoding(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    head = schemas["SignedTreeHeadPublic"]["properties"]
    assert head["root_hash"]["pattern"] == "^[0-9a-f]{64}$"
    assert head["key_id"]["pattern"] == "^[0-9a-f]{64}$"
    assert head["signature"]["pattern"] == "^[A-Za-z0-9+/]{86}==$"
    assert head["tree_size"]["type"] == head["timestamp"]["type"] == "integer"
    assert all(field.get("description") for field in head.values())
    certificate = schemas["CertificatePublic"]
    assert certificate["required"] == [
        "format",
        "log_index",
        "leaf",
        "inclusion_proof",
        "tree_head",
        "key_id",
        "public_key",
        "openings",
    ]
    opening = schemas["OpeningPublic"]["properties"]
    assert opening["salt"]["pattern"] == "^[0-9a-f]{64}$"
    assert certificate["properties"]["inclusion_proof"]["items"]["pattern"] == "^[0-9a-f]{64}$"


ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}


def test_security_schemes_are_declared(client: TestClient) -> None:
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "http", "scheme": "bearer"}
    assert (schemes["SessionCookie"]["in"], schemes["SessionCookie"]["name"]) == (
        "cookie",
        "copymark_session",
    )
    assert (schemes["CsrfToken"]["in"], schemes["CsrfToken"]["name"].lower()) == (
        "header",
        "x-csrf-token",
    )


def test_each_operation_says_how_it_is_authenticated(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/api/v1/works/{work_id}"]["delete"]["security"] == [
        {"ApiKey": []},
        {"SessionCookie": [], "CsrfToken": []},
    ]
    assert paths["/api/v1/works/{work_id}"]["get"]["security"] == [
        {"ApiKey": []},
        {"SessionCookie": []},
    ]
    assert {} in paths["/api/v1/verify/{work_id}"]["get"]["security"]
    assert "security" not in paths["/api/v1/log/head"]["get"]


def test_every_operation_documents_its_errors_with_the_real_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    problems = []
    for name, operation in operations(spec):
        if name == "GET /healthz":
            continue
        expected = {"400", "404", "409", "413", "422", "429"}
        if operation.get("security"):
            expected |= {"401", "403"}
        for code in sorted(expected):
            response = operation["responses"].get(code)
            if response is None:
                problems.append(f"{name}: {code} is not documented")
            elif response["content"] != {"application/json": {"schema": ERROR_REF}}:
                problems.append(f"{name} {code}: not the error body {response['content']}")
    assert not problems, "\n".join(problems)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_a_real_error_matches_the_documented_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ErrorPublic"]
    for answer in (
        client.get("/api/v1/log/leaves/minus-one"),
        client.get("/api/v1/works"),
        client.get("/api/v1/log/head"),
    ):
        assert answer.status_code in {401, 404, 422}
        jsonschema.validate(answer.json(), schema)
