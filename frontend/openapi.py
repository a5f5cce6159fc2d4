"""The published OpenAPI document says what the API really answers: how each operation is
authenticated, and every error it may give with the body the error handler writes.

FastAPI derives success responses from the routes; this adds what it cannot see, because the
error contract lives in one place (`frontend.app`'s handlers) rather than on each route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from frontend.deps import (
    CSRF_HEADER,
    SESSION_COOKIE,
    UNSAFE_METHODS,
    CurrentUser,
    OptionalUser,
    SameOrigin,
)
from frontend.schemas import ErrorPublic

API_KEY: Final = "ApiKey"
SESSION: Final = "SessionCookie"
CSRF: Final = "CsrfToken"
SECURITY_SCHEMES: Final[dict[str, Any]] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cmk_…",
        "description": "An API key (POST /api/v1/api-keys) as Authorization: Bearer <key>.",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The sign-in session cookie (POST /api/v1/sessions).",
    },
    CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": CSRF_HEADER,
        "description": "With the session cookie on unsafe methods: the csrf_token sign-in gave.",
    },
}

ERRORS: Final = {
    400: "The request is malformed",
    401: "Not signed in, or the API key or session is not valid",
    403: "Signed in but not allowed, the CSRF token is missing, or a form from another site",
    404: "Nothing at this address, or not visible to the caller",
    409: "Conflicts with the present state (already done, taken, or changed meanwhile)",
    413: "The upload or body is larger than allowed",
    422: "A field is invalid or breaks a rule of the domain; `detail` names it",
    429: "Too many requests; wait the seconds Retry-After says",
    503: "Not ready yet, or a service it needs is down; try again",
}
# Any operation may answer these; authentication adds 401 and 403.
_EVERY_OPERATION: Final = (400, 404, 409, 413, 422, 429, 503)


def _dependency(alias: Any) -> Callable[..., Any]:
    """The function behind an `Annotated[..., Depends(f)]` alias."""
    call: Callable[..., Any] = get_args(alias)[1].dependency
    return call


_REQUIRES_USER: Final = _dependency(CurrentUser)
_ACCEPTS_USER: Final = _dependency(OptionalUser)
_SAME_ORIGIN: Final = SameOrigin.dependency


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _security(method: str, calls: set[Callable[..., Any] | None]) -> list[dict[str, list[str]]]:
    # A cookie-authenticated unsafe request must also echo the CSRF token.
    cookie: dict[str, list[str]] = {SESSION: []}
    if method in UNSAFE_METHODS:
        cookie[CSRF] = []
    required: list[dict[str, list[str]]] = [{API_KEY: []}, cookie]
    if _REQUIRES_USER in calls:
        return required
    if _ACCEPTS_USER in calls:
        return [*required, {}]
    return []


def _error_response(status: int, description: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERRORS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _operations(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """Each JSON API route as its full path, its methods and its dependencies."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format
        if isinstance(route, APIRoute) and path and path.startswith("/api/"):
            yield path, set(context.methods or ()), route.dependant


def _document(spec: dict[str, Any], app: FastAPI) -> None:
    components = spec.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    schemas["ErrorPublic"] = ErrorPublic.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, methods, dependant in _operations(app):
        calls = set(_calls(dependant))
        for method in methods:
            operation = spec["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            security = _security(method, calls)
            statuses = set(_EVERY_OPERATION)
            if security:
                operation["security"] = security
                statuses |= {401, 403}
            if _SAME_ORIGIN in calls:
                statuses.add(403)
            responses = operation.setdefault("responses", {})
            # A route may name an error of its own (sign-in's 401); it gets the error body too.
            statuses |= {int(code) for code in responses if code.isdigit() and int(code) in ERRORS}
            for status in sorted(statuses):
                described = responses.get(str(status), {}).get("description")
                responses[str(status)] = _error_response(status, described)


def install(app: FastAPI) -> None:
    """Make `app.openapi()` publish security schemes and the documented error responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            _document(spec, app)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
