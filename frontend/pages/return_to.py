"""Where sign-in sends a person back to: a path on this site only, never another site.

A `next=` value comes from a link anyone can write, so it is an open-redirect vector unless it
is provably local. Browsers read `//host`, `/\\host`, `\\\\host` and `https:host` as other
sites, and strip tabs and line breaks from URLs before reading them; servers and proxies may
decode `%2F` and `%5C` once more. A path passes only if neither it nor any decoding of it could
be read as anything but a path on this origin.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote, unquote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

NEXT_PARAMETER: Final = "next"
MAX_NEXT_LENGTH: Final = 2000
DEFAULT_LANDING: Final = "/landing"
# Pages that make no sense to come back to after signing in.
_NOT_RETURNED_TO: Final = ("/login", "/signup", "/logout", "/password/")
_UNSAFE_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f\\]")
_DECODINGS: Final = 3


def safe_return_path(value: str | None) -> str | None:
    """`value` when it is a path on this site (starting with one `/`), else None."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return None
    candidate = value
    for _ in range(_DECODINGS + 1):
        if not _is_local_path(candidate):
            return None
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        return None  # still encoded after every decoding: nobody writes a real link like that
    return value


def _is_local_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//") or _UNSAFE_CHARACTERS.search(path):
        return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


def return_path(request: Request) -> str:
    """Where to go after signing in: the request's safe `next=`, else the default landing page."""
    return safe_return_path(request.query_params.get(NEXT_PARAMETER)) or DEFAULT_LANDING


def sign_in_url(request: Request) -> str:
    """The sign-in page, asked to come back to the page of `request` (its path, and for a GET
    its query), unless that page is itself part of signing in."""
    path = request.url.path
    if path.startswith(_NOT_RETURNED_TO):
        existing = safe_return_path(request.query_params.get(NEXT_PARAMETER))
        return f"/login?{NEXT_PARAMETER}={quote(existing, safe='')}" if existing else "/login"
    here = path + (f"?{request.url.query}" if request.method == "GET" and request.url.query else "")
    if safe_return_path(here) is None:
        return "/login"
    return f"/login?{NEXT_PARAMETER}={quote(here, safe='')}"


def to_sign_in(request: Request) -> RedirectResponse:
    """Send a visitor who must sign in to the sign-in page, to come back here afterwards."""
    return RedirectResponse(sign_in_url(request), status_code=303)
