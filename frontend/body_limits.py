"""Request bodies are limited per route as they stream in, before anything parses or spools them.

Without a limit, a 1 GB upload is spooled to disk before the upload's own size check refuses
it, and a 100 MB JSON body is read and parsed whole. `BodyLimits` (an ASGI middleware) picks the
limit for the request's route, refuses at once a Content-Length over it, and otherwise counts the
bytes as they arrive. The counting is Starlette's own `RequestBodyLimitMiddleware`, not a copy
of it: FastAPI recognises its error while parsing a form or JSON body and lets it through as a
413 instead of turning it into a 400 "error parsing the body". The app words every 413 with
`too_large_message`, which names the limit and what the route takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from licensing.contract import MAX_DOCUMENT_BYTES
from licensing.reports import MAX_CSV_BYTES
from registry.errors import CopymarkError, PayloadTooLarge

MiB: Final = 1024 * 1024
# Multipart boundaries, part headers and the small form fields that come with a file.
FORM_ENVELOPE: Final = MiB
# Room above a document route's own limit, so that route's own check answers in its own words.
DOCUMENT_ENVELOPE: Final = 64 * 1024
_SCOPE_KEY: Final = "copymark.body_limit"


def in_mib(size: int) -> str:
    """A byte count as people read it: '50 MiB', '1.5 MiB', or bytes below one MiB."""
    if size < MiB:
        return f"{size:,} bytes"
    return f"{size / MiB:.1f}".removesuffix(".0") + " MiB"


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """At most `max_bytes` of body for `method` on paths matching the route template `path`."""

    method: str
    path: str
    max_bytes: int
    takes: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and _compiled(self.path).match(path) is not None


@lru_cache(maxsize=64)
def _compiled(template: str) -> re.Pattern[str]:
    pattern, _format, _converters = compile_path(template)
    return pattern


def route_body_limits(*, max_upload_bytes: int, max_batch_bytes: int) -> tuple[BodyLimit, ...]:
    """The routes that take more than the default: image uploads, batches, documents, reports."""
    one_image = f"one image of at most {in_mib(max_upload_bytes)} and its form fields"
    image = max_upload_bytes + FORM_ENVELOPE
    return (
        BodyLimit("POST", "/api/v1/match", image, one_image),
        BodyLimit("POST", "/find", image, one_image),
        BodyLimit("POST", "/api/v1/works", image, one_image),
        BodyLimit("POST", "/works/upload", image, one_image),
        BodyLimit(
            "POST",
            "/api/v1/works/batch",
            max_batch_bytes,
            f"images of at most {in_mib(max_batch_bytes)} together; send more in several batches",
        ),
        BodyLimit(
            "POST",
            "/api/v1/works/{work_id}/contract-versions",
            MAX_DOCUMENT_BYTES + DOCUMENT_ENVELOPE,
            f"a contract document of at most {in_mib(MAX_DOCUMENT_BYTES)}",
        ),
        BodyLimit(
            "POST",
            "/api/v1/grants/{grant_id}/sales-reports",
            MAX_CSV_BYTES + DOCUMENT_ENVELOPE,
            f"a sales report of at most {in_mib(MAX_CSV_BYTES)}",
        ),
        BodyLimit(
            "POST",
            "/api/v1/grants/{grant_id}/sales-reports/csv",
            MAX_CSV_BYTES + DOCUMENT_ENVELOPE,
            f"a CSV report of at most {in_mib(MAX_CSV_BYTES)}",
        ),
    )


class BodyLimits:
    """ASGI middleware: each request's body may be at most its route's limit, else the default."""

    def __init__(self, app: ASGIApp, routes: Sequence[BodyLimit], default_bytes: int) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.default = BodyLimit("*", "/{path:path}", default_bytes, "a form or JSON body")

    def limit_for(self, method: str, path: str) -> BodyLimit:
        return next((limit for limit in self.routes if limit.matches(method, path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        scope[_SCOPE_KEY] = limit
        declared = _declared_length(scope)
        if declared is not None and declared > limit.max_bytes:
            # Refused before the app runs: not one byte of the body is read (nor a 100-continue
            # sent to a client that waits for one).
            request = Request(scope, receive)
            handler = scope["app"].exception_handlers[CopymarkError]
            response = await handler(request, PayloadTooLarge(too_large_message(request)))
            await response(scope, receive, send)
            return
        await RequestBodyLimitMiddleware(self.app, max_body_size=limit.max_bytes)(
            scope, receive, send
        )


def too_large_message(request: Request) -> str:
    """Why a body was refused, naming the limit of the route it was sent to."""
    limit: BodyLimit | None = request.scope.get(_SCOPE_KEY)
    route = f"{request.method} {request.url.path}"
    if limit is None:
        return f"The request body is too large for {route}."
    return (
        f"The request body is over {in_mib(limit.max_bytes)}, the most {route} accepts "
        f"({limit.takes})."
    )


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
