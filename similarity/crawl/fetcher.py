"""Every fetch is bounded: in time (connect, read, total deadline) and in bytes (wire and decoded).

Redirects are followed here, not by httpx, so that every hop passes the network guard and the
caller's hop check (scope, robots.txt) before a connection is made. Transient failures
(timeouts, network errors, 429/502/503/504) are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

from similarity.crawl.netguard import NetGuard, TargetRefusedError, VettedTarget
from similarity.crawl.politeness import HostPoliteness
from similarity.crawl.records import FetchRecord, IssueKind, RedirectHop, Validators
from similarity.crawl.transport import PinnedTransport
from similarity.crawl.urls import InvalidUrlError, WebUrl, canonical_url

DEFAULT_USER_AGENT = "CopymarkBot/0.1 (+https://copymark.example/bot)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 502, 503, 504})

HopCheck = Callable[[WebUrl], Awaitable[None]]


class FetchError(Exception):
    """A fetch that produced no usable response; `kind` classifies the failure."""

    def __init__(self, url: str, kind: IssueKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.url = url
        self.kind = kind
        self.message = message

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed."""
        return self.kind in (IssueKind.TIMEOUT, IssueKind.NETWORK)


@dataclass(frozen=True)
class FetchLimits:
    """Time and size bounds of one fetch."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    deadline_s: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_decoded_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0


class _BoundedDecoder:
    """Decodes gzip or deflate incrementally and stops once the output would pass the limit."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self._url = url
        self._limit = limit
        self._size = 0
        self._parts: list[bytes] = []
        self._deflate_fallback = False
        self._decompressor: Any
        match encoding:
            case "gzip" | "x-gzip":
                self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            case "deflate":
                self._decompressor = zlib.decompressobj(zlib.MAX_WBITS)
                self._deflate_fallback = True
            case _:
                raise FetchError(url, IssueKind.DECODING, f"unsupported encoding {encoding!r}")

    def feed(self, chunk: bytes) -> None:
        data = chunk
        while data and not self._decompressor.eof:
            try:
                output = self._decompressor.decompress(data, self._limit - self._size + 1)
            except zlib.error as error:
                if self._deflate_fallback and self._size == 0:
                    # Some servers send raw deflate without the zlib header.
                    self._deflate_fallback = False
                    self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError(self._url, IssueKind.DECODING, str(error)) from error
            self._deflate_fallback = False
            self._append(output)
            data = self._decompressor.unconsumed_tail

    def finish(self) -> bytes:
        self._append(self._decompressor.flush())
        return b"".join(self._parts)

    def _append(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            raise FetchError(
                self._url, IssueKind.TOO_LARGE, f"decoded body exceeds {self._limit} bytes"
            )
        self._parts.append(data)


class Fetcher:
    """GETs URLs through the network guard, politely, within limits; returns FetchRecords."""

    def __init__(
        self,
        guard: NetGuard,
        *,
        limits: FetchLimits | None = None,
        politeness: HostPoliteness | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self.guard = guard
        self.limits = limits if limits is not None else FetchLimits()
        self.politeness = politeness if politeness is not None else HostPoliteness()
        self.user_agent = user_agent
        self._transport = PinnedTransport(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
        )
        self._client = httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(
                connect=self.limits.connect_timeout_s,
                read=self.limits.read_timeout_s,
                write=self.limits.read_timeout_s,
                pool=self.limits.deadline_s,
            ),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        hop_check: HopCheck | None = None,
        accept: str = "*/*",
    ) -> FetchRecord:
        """GET `url`, following vetted redirects and retrying transient failures.

        Raises FetchError when no response could be had; any HTTP status is returned as a
        record (after retries for 429/502/503/504).
        """
        attempt = 0
        while True:
            try:
                record = await self._follow_redirects(url, validators, hop_check, accept)
            except FetchError as failure:
                if not failure.retryable or attempt >= self.limits.max_retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, None))
            else:
                if record.status not in RETRY_STATUSES or attempt >= self.limits.max_retries:
                    return record
                await asyncio.sleep(self._backoff(attempt, record.header("retry-after")))
            attempt += 1

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = self.limits.backoff_base_s * 2.0**attempt
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after.strip()))
        return min(delay, self.limits.backoff_max_s)

    async def _follow_redirects(
        self,
        url: str,
        validators: Validators | None,
        hop_check: HopCheck | None,
        accept: str,
    ) -> FetchRecord:
        started_at = datetime.now(UTC)
        chain: list[RedirectHop] = []
        current = url
        visited = {url}
        for hop in range(self.limits.max_redirects + 1):
            try:
                target = await self.guard.vet(current)
            except TargetRefusedError as refusal:
                raise FetchError(current, IssueKind.REFUSED, refusal.reason) from refusal
            if hop_check is not None:
                await hop_check(target.url)
            record = await self._exchange(target, validators if hop == 0 else None, accept)
            location = record.header("location")
            if record.status not in REDIRECT_STATUSES or location is None:
                return replace(record, url=url, started_at=started_at, redirect_chain=tuple(chain))
            try:
                following = canonical_url(location, base=current)
            except InvalidUrlError as error:
                raise FetchError(current, IssueKind.INVALID_URL, str(error)) from error
            chain.append(RedirectHop(url=current, status=record.status, location=following))
            if following in visited:
                raise FetchError(url, IssueKind.REDIRECT_LOOP, f"redirect loop at {following}")
            visited.add(following)
            current = following
        raise FetchError(
            url, IssueKind.TOO_MANY_REDIRECTS, f"more than {self.limits.max_redirects} redirects"
        )

    async def _exchange(
        self, target: VettedTarget, validators: Validators | None, accept: str
    ) -> FetchRecord:
        url = str(target.url)
        self._transport.pin(target.url.host, target.url.port, target.address)
        headers = {
            "User-Agent": self.user_agent,
            "Accept": accept,
            "Accept-Encoding": "gzip, deflate",
        }
        if validators is not None and validators.etag is not None:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified is not None:
            headers["If-Modified-Since"] = validators.last_modified
        request = self._client.build_request("GET", url, headers=headers)
        async with self.politeness.slot(target.url.host) as sent:
            started_at = datetime.now(UTC)
            try:
                async with asyncio.timeout(self.limits.deadline_s):
                    response = await self._client.send(request, stream=True)
                    sent()
                    try:
                        body, content = await self._read_body(response, url)
                        peer_ip, tls_subject = _peer(response)
                    finally:
                        await response.aclose()
            except TimeoutError as error:
                raise FetchError(
                    url, IssueKind.TIMEOUT, f"no complete response within {self.limits.deadline_s}s"
                ) from error
            except httpx.TimeoutException as error:
                raise FetchError(url, IssueKind.TIMEOUT, str(error) or "timed out") from error
            except httpx.HTTPError as error:
                raise FetchError(url, IssueKind.NETWORK, str(error) or type(error).__name__) from (
                    error
                )
        return FetchRecord(
            url=url,
            final_url=url,
            method="GET",
            request_headers=tuple(
                (key.decode("latin-1"), value.decode("latin-1"))
                for key, value in request.headers.raw
            ),
            status=response.status_code,
            response_headers=tuple(
                (key.decode("latin-1"), value.decode("latin-1"))
                for key, value in response.headers.raw
            ),
            body=body,
            content=content,
            resolved_ip=peer_ip or str(target.address),
            tls_peer_subject=tls_subject,
            http_version=response.http_version,
            started_at=started_at,
            finished_at=datetime.now(UTC),
        )

    async def _read_body(self, response: httpx.Response, url: str) -> tuple[bytes, bytes]:
        limit = self.limits.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(url, IssueKind.TOO_LARGE, f"Content-Length {declared} > {limit}")
        encoding = response.headers.get("content-encoding", "").strip().lower()
        decoder = (
            None
            if encoding in ("", "identity")
            else _BoundedDecoder(encoding, self.limits.max_decoded_bytes, url)
        )
        parts: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise FetchError(url, IssueKind.TOO_LARGE, f"body exceeds {limit} bytes")
            parts.append(chunk)
            if decoder is not None:
                decoder.feed(chunk)
        body = b"".join(parts)
        return body, (body if decoder is None else decoder.finish())


def _peer(response: httpx.Response) -> tuple[str | None, str | None]:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None, None
    server = stream.get_extra_info("server_addr")
    peer_ip = str(server[0]) if isinstance(server, tuple) and server else None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return peer_ip, None
    certificate = ssl_object.getpeercert()
    subject = certificate.get("subject", ()) if certificate else ()
    return peer_ip, ",".join(f"{key}={value}" for rdn in subject for key, value in rdn)
