"""The address people reach the app at, for links that leave the page (QR codes, "verify at")."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from frontend.settings import Settings


def public_base_url(connection: HTTPConnection, settings: Settings) -> str:
    """COPYMARK_BASE_URL when the operator set it (behind a proxy only they know the outside
    address); otherwise the scheme, host and port this request was addressed to."""
    if "base_url" in settings.model_fields_set:
        return settings.base_url.rstrip("/")
    return str(connection.base_url).rstrip("/")
