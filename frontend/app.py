"""FastAPI app factory: JSON API under /api/v1, pages, health, and the error contract."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from frontend.api import (
    accounts,
    cases,
    disputes,
    licensing,
    log,
    monitoring,
    notifications,
    search,
    settlement,
    works,
)
from frontend.body_limits import BodyLimits, route_body_limits, too_large_message
from frontend.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, SecurityHeaders
from frontend.i18n import RememberLanguage, gettext_for
from frontend.lifespan import lifespan
from frontend.openapi import install as document_api
from frontend.pages import router as pages_router
from frontend.pages.rendering import render_error, validation_message
from frontend.schemas import HealthPublic
from frontend.services import Services
from frontend.settings import Settings
from registry.errors import CopymarkError, Overloaded, TooManyRequests
from registry.messages import N_

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api/"
# Codes for errors the framework raises itself (unknown URL, wrong method), named as ours are.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def answers_with_page(request: Request) -> bool:
    """Pages answer errors with the error page, the JSON API with a JSON body.

    A matched route outside /api/ is a page; an unmatched URL is answered as its client asks.
    """
    if request.url.path.startswith(API_PREFIX):
        return False
    if request.scope.get("route") is not None:
        return True
    return "text/html" in request.headers.get("accept", "")


def allowed_methods(request: Request) -> str:
    """Every method some route accepts at this path, for a 405's Allow header.

    Starlette's own 405 names only the methods of the first route whose path matched, though
    FastAPI makes one route per method: GET and DELETE on /works/{id} are two routes.
    """
    path = request.scope["path"]
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.path and context.methods and compile_path(context.path)[0].match(path):
            methods |= context.methods
    return ", ".join(sorted(methods))


UNEXPECTED_ERROR = N_(
    "Something went wrong on our side and this request was not completed. Try again in a moment."
)


def _as_written(message: str) -> str:
    return message


def in_words(
    request: Request, error: StarletteHTTPException, _: Callable[[str], str] = _as_written
) -> str:
    """The framework's own errors say only "Not Found" or "Method Not Allowed": say where, too,
    in the language `_` translates to (the page's; the JSON API answers in English)."""
    if error.status_code == 413:
        # Starlette's body limit says only "Content Too Large": name the limit and the route.
        return too_large_message(request)
    detail = str(error.detail)
    if detail != HTTPStatus(error.status_code).phrase:
        return detail
    path = request.url.path
    if error.status_code == 404:
        return _("There is nothing at %(path)s: check the address.") % {"path": path}
    if error.status_code == 405:
        allowed = allowed_methods(request)
        words = {"method": request.method, "path": path, "allowed": allowed}
        if allowed:
            return _("%(method)s is not accepted at %(path)s; it accepts %(allowed)s.") % words
        return _("%(method)s is not accepted at %(path)s.") % words
    return detail


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; services are created from settings unless the caller supplies them."""
    services = services or Services(settings or Settings())
    app = FastAPI(title="Copymark", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    app.state.ready = False
    app.add_middleware(
        BodyLimits,
        routes=route_body_limits(
            max_upload_bytes=services.settings.max_upload_bytes,
            max_batch_bytes=services.settings.max_batch_bytes,
        ),
        default_bytes=services.settings.max_body_bytes,
    )
    app.add_middleware(RememberLanguage)
    app.add_middleware(SecurityHeaders)  # added last, so it wraps every answer, 413s included

    @app.exception_handler(CopymarkError)
    async def domain_error(request: Request, error: CopymarkError) -> Response:
        headers = (
            {"Retry-After": str(error.retry_after_s)}
            if isinstance(error, TooManyRequests | Overloaded)
            else {}
        )
        if answers_with_page(request):
            page = render_error(request, error.status_code, error.translated(gettext_for(request)))
            page.headers.update(headers)
            return page
        return JSONResponse(
            {"detail": error.message, "code": error.code},
            status_code=error.status_code,
            headers=headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        if answers_with_page(request):
            page = render_error(
                request, error.status_code, in_words(request, error, gettext_for(request))
            )
            page.headers.update(headers)
            return page
        return JSONResponse(
            {
                "detail": in_words(request, error),
                "code": HTTP_CODES.get(error.status_code, "http_error"),
            },
            status_code=error.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        if answers_with_page(request):
            return render_error(request, 422, validation_message(request, error))
        problems = [
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        ]
        return JSONResponse(
            {"detail": "; ".join(problems), "code": "request_invalid", "errors": problems},
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> Response:
        # Starlette answers this outside every middleware, so the security headers are set
        # here; it re-raises afterwards (so the error is logged) and uvicorn then drops the
        # connection: say so, or a client sends its next request down a closing connection.
        headers = {
            "Connection": "close",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            **SECURITY_HEADERS,
        }
        message = UNEXPECTED_ERROR
        if answers_with_page(request):
            page = render_error(request, 500, gettext_for(request)(message))
            page.headers.update(headers)
            return page
        return JSONResponse(
            {"detail": message, "code": "internal_error"}, status_code=500, headers=headers
        )

    @app.get(
        "/healthz",
        tags=["health"],
        response_model=HealthPublic,
        responses={503: {"model": HealthPublic, "description": "Still starting"}},
    )
    async def healthz() -> JSONResponse:
        # Async on purpose: it answers on the event loop and never waits for a worker thread.
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    # Pages first: most requests are page views, and a router is matched in the order added.
    app.include_router(pages_router)
    for router in (
        accounts.router,
        notifications.router,
        works.router,
        works.public_router,
        log.router,
        licensing.router,
        settlement.router,
        monitoring.router,
        cases.router,
        disputes.router,
        search.router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    document_api(app)
    return app
