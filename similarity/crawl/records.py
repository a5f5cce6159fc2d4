"""A FetchRecord keeps the exact exchange of one fetch so that it can be filed as evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class IssueKind(StrEnum):
    """Why a page or image could not be used; the crawl goes on after each."""

    INVALID_URL = "invalid_url"
    REFUSED = "refused"
    DISALLOWED_BY_ROBOTS = "disallowed_by_robots"
    OUT_OF_SCOPE = "out_of_scope"
    TIMEOUT = "timeout"
    NETWORK = "network"
    TOO_LARGE = "too_large"
    DECODING = "decoding"
    HTTP_STATUS = "http_status"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    CONTENT_TYPE = "content_type"
    NOT_AN_IMAGE = "not_an_image"


@dataclass(frozen=True)
class PageIssue:
    """A problem met on one URL; `page_url` names the page that referred to it, if any."""

    url: str
    kind: IssueKind
    message: str
    page_url: str | None = None


@dataclass(frozen=True)
class Validators:
    """Cache validators from an earlier crawl, sent back to ask for a 304 if nothing changed."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RedirectHop:
    """One redirect answer on the way to the final URL."""

    url: str
    status: int
    location: str


@dataclass(frozen=True)
class FetchRecord:
    """One GET as it happened on the wire.

    `body` holds the payload bytes as transmitted (content-encoding intact, transfer-encoding
    removed), which is what a WARC response record stores; `content` is the decoded payload.
    `resolved_ip` is the peer address the socket actually connected to.
    """

    url: str
    final_url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    content: bytes
    resolved_ip: str
    tls_peer_subject: str | None
    http_version: str
    started_at: datetime
    finished_at: datetime
    redirect_chain: tuple[RedirectHop, ...] = ()

    def header(self, name: str) -> str | None:
        """The first response header called `name` (case-insensitive), if present."""
        wanted = name.lower()
        return next((value for key, value in self.response_headers if key.lower() == wanted), None)

    @property
    def media_type(self) -> str:
        """The response's media type without parameters, lower-cased ('' when absent)."""
        raw = self.header("content-type") or ""
        return raw.split(";", 1)[0].strip().lower()

    @property
    def validators(self) -> Validators:
        """The validators to send on the next crawl of this URL."""
        return Validators(etag=self.header("etag"), last_modified=self.header("last-modified"))
