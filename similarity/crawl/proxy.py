"""No connection made through the proxy reaches a target the network guard refuses.

A forwarding HTTP proxy on 127.0.0.1 for a client that cannot be trusted to vet its own
connections: headless Chromium rendering a page follows redirects, runs the page's scripts and
opens WebSockets, and Playwright's request interception sees neither redirect hops nor
WebSockets. Made the client's only way out, the proxy sees every connection instead. It speaks
exactly two kinds of request:

- absolute-form plain-HTTP requests (`GET http://host:port/path HTTP/1.1`), forwarded one per
  connection, upstream and downstream with `Connection: close`;
- CONNECT tunnels (`CONNECT host:port HTTP/1.1`), which Chromium uses for https, wss and ws
  alike, relayed byte for byte once the target has passed.

Every target is vetted by the crawler's NetGuard with its allow-list, and the proxy connects
to the one address the guard resolved and vetted, never resolving again: a DNS answer cannot
change between the check and the connection (DNS rebinding), as for the crawler's pinned
transport. A refused target gets 403; anything else (origin-form requests, https in absolute
form, malformed request lines or headers, a head over the size limit, a chunked request body)
gets 400 or 501, and the connection is closed while the proxy goes on serving others.

Refusals carry no reason, only the `X-Copymark-Guard: refused` marker (which the proxy strips
from the plain-HTTP answers it forwards, so no server can fake it there): the page being
rendered can show a refused navigation in the screenshot, and a reason can name the private
address a host name resolved to. Anyone on this machine can reach the proxy while it runs; it
grants them no more than the crawler itself fetches.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

from similarity.crawl.netguard import NetGuard, TargetRefusedError, VettedTarget

GUARD_HEADER: Final = "X-Copymark-Guard"
MAX_HEAD_BYTES: Final = 64 * 1024
_CHUNK: Final = 64 * 1024

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_REQUEST_TARGET = re.compile(r"^[\x21-\x7e]+$")
_HTTP_VERSION = re.compile(r"^HTTP/1\.[01]$")
_FIELD_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
_AUTHORITY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$")
_STATUS_LINE = re.compile(r"^HTTP/1\.[01] [0-9]{3}( [\t\x20-\x7e\x80-\xff]*)?$")

# Hop-by-hop headers (RFC 9110 section 7.6.1) and those the proxy sets itself. Upgrade goes
# too: a WebSocket comes through CONNECT, a plain request is never upgraded through the proxy.
_NOT_FORWARDED: Final = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "expect",
    }
)
# A server may not pass itself off as a refusal by sending the proxy's own marker.
_NOT_RETURNED: Final = frozenset(
    {"connection", "proxy-connection", "keep-alive", GUARD_HEADER.lower()}
)


class _BadRequest(Exception):
    """The client sent something the proxy does not speak; answered with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


@dataclass(frozen=True)
class _Head:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


_REASONS: Final = {
    400: "Bad Request",
    403: "Forbidden",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


class GuardedProxy:
    """An HTTP forward proxy on 127.0.0.1 whose every upstream connection the guard vetted."""

    def __init__(
        self,
        guard: NetGuard,
        *,
        connect_timeout_s: float = 10.0,
        idle_timeout_s: float = 30.0,
    ) -> None:
        self._guard = guard
        self._connect_timeout_s = connect_timeout_s
        self._idle_timeout_s = idle_timeout_s
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, host="127.0.0.1", port=0, limit=MAX_HEAD_BYTES
            )

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The proxy's address as a client configures it."""
        return f"http://127.0.0.1:{self.port}"

    async def aclose(self) -> None:
        """Stop listening and cut every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # a client or upstream that hangs up or stalls ends its own exchange only
        except asyncio.CancelledError:
            # Only aclose cancels a handler; the stream machinery would log it as an error.
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Connection(reader, writer)
        try:
            head = await self._read_head(reader)
            if head.method == "CONNECT":
                target = await self._vet_authority(head.target)
            else:
                body_length = _body_length(head)
                target = await self._vet_http(head.target)
        except _BadRequest as error:
            await _answer(writer, error.status, f"{error}\n")
            return
        except TargetRefusedError:
            await _answer(writer, 403, "Refused by the network guard.\n", refused=True)
            return
        try:
            upstream = _Connection(
                *await asyncio.wait_for(
                    asyncio.open_connection(str(target.address), target.url.port),
                    self._connect_timeout_s,
                )
            )
        except TimeoutError:
            await _answer(writer, 504, "The server did not answer in time.\n")
            return
        except OSError:
            await _answer(writer, 502, "The server could not be reached.\n")
            return
        try:
            if head.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await self._tunnel(client, upstream)
            else:
                await self._forward(head, body_length, target, client, upstream)
        finally:
            upstream.writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await upstream.writer.wait_closed()

    async def _read_head(self, reader: asyncio.StreamReader) -> _Head:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._idle_timeout_s)
        except asyncio.LimitOverrunError as error:
            raise _BadRequest(431, "the request head is too large") from error
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise _BadRequest(400, "the request head is incomplete") from error
            raise
        lines = raw[:-4].decode("latin-1").split("\r\n")
        if any("\r" in line or "\n" in line or "\x00" in line for line in lines):
            raise _BadRequest(400, "bare CR, LF or NUL in the request head")
        parts = lines[0].split(" ")
        if (
            len(parts) != 3
            or not _TOKEN.match(parts[0])
            or not _REQUEST_TARGET.match(parts[1])
            or not _HTTP_VERSION.match(parts[2])
        ):
            raise _BadRequest(400, "malformed request line")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.match(name) or not _FIELD_VALUE.match(value):
                raise _BadRequest(400, "malformed header field")
            headers.append((name, value.strip(" \t")))
        return _Head(method=parts[0], target=parts[1], headers=tuple(headers))

    async def _vet_authority(self, authority: str) -> VettedTarget:
        if not _AUTHORITY.match(authority):
            raise _BadRequest(400, "CONNECT needs host:port")
        return await self._guard.vet(f"https://{authority}/")

    async def _vet_http(self, target: str) -> VettedTarget:
        if not target.lower().startswith("http://"):
            raise _BadRequest(400, "only absolute http:// targets and CONNECT are proxied")
        vetted = await self._guard.vet(target)
        if vetted.url.scheme != "http":
            raise _BadRequest(400, "only absolute http:// targets and CONNECT are proxied")
        return vetted

    async def _forward(
        self,
        head: _Head,
        body_length: int,
        target: VettedTarget,
        client: _Connection,
        upstream: _Connection,
    ) -> None:
        named_in_connection = {
            option.strip().lower()
            for value in head.values("connection")
            for option in value.split(",")
        }
        lines = [f"{head.method} {target.url.target} HTTP/1.1", f"Host: {_host_header(target)}"]
        lines += [
            f"{name}: {value}"
            for name, value in head.headers
            if name.lower() not in _NOT_FORWARDED and name.lower() not in named_in_connection
        ]
        lines.append("Connection: close")
        upstream.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await _copy_exactly(client.reader, upstream.writer, body_length, self._idle_timeout_s)
        await upstream.writer.drain()
        try:
            response_head = await asyncio.wait_for(
                upstream.reader.readuntil(b"\r\n\r\n"), self._idle_timeout_s
            )
        except TimeoutError:
            await _answer(client.writer, 504, "The server did not answer in time.\n")
            return
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            await _answer(client.writer, 502, "The server's answer was not HTTP.\n")
            return
        status_line, *fields = response_head[:-4].decode("latin-1").split("\r\n")
        if not _STATUS_LINE.match(status_line) or any(
            "\r" in field or "\n" in field or ":" not in field or field[:1] in (" ", "\t")
            for field in fields
        ):
            await _answer(client.writer, 502, "The server's answer was not HTTP.\n")
            return
        kept = [f for f in fields if f.partition(":")[0].strip().lower() not in _NOT_RETURNED]
        returned = "\r\n".join([status_line, *kept, "Connection: close"]) + "\r\n\r\n"
        client.writer.write(returned.encode("latin-1"))
        await _copy_until_eof(upstream.reader, client.writer, self._idle_timeout_s)

    async def _tunnel(self, client: _Connection, upstream: _Connection) -> None:
        outward = asyncio.ensure_future(
            _copy_until_eof(client.reader, upstream.writer, self._idle_timeout_s)
        )
        inward = asyncio.ensure_future(
            _copy_until_eof(upstream.reader, client.writer, self._idle_timeout_s)
        )
        try:
            # The client may half-close and still read the answer; the upstream closing, or
            # either side failing, ends the tunnel.
            done, _pending = await asyncio.wait(
                (outward, inward), return_when=asyncio.FIRST_COMPLETED
            )
            if inward not in done and outward.exception() is None:
                await inward
            for step in done:
                step.result()
        finally:
            outward.cancel()
            inward.cancel()
            await asyncio.gather(outward, inward, return_exceptions=True)


def _body_length(head: _Head) -> int:
    """The request body's length; only Content-Length framing is proxied."""
    if head.values("transfer-encoding"):
        raise _BadRequest(501, "chunked request bodies are not proxied")
    lengths = {value.strip() for value in head.values("content-length")}
    if len(lengths) > 1 or not all(length.isdigit() for length in lengths):
        raise _BadRequest(400, "malformed Content-Length")
    return int(next(iter(lengths), "0"))


def _host_header(target: VettedTarget) -> str:
    origin = target.url.origin
    return origin.split("://", 1)[1]


async def _copy_exactly(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int, idle_s: float
) -> None:
    remaining = length
    while remaining > 0:
        chunk = await asyncio.wait_for(reader.read(min(remaining, _CHUNK)), idle_s)
        if not chunk:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(chunk)
        writer.write(chunk)
        await writer.drain()


async def _copy_until_eof(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle_s: float
) -> None:
    while chunk := await asyncio.wait_for(reader.read(_CHUNK), idle_s):
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _answer(
    writer: asyncio.StreamWriter, status: int, message: str, *, refused: bool = False
) -> None:
    body = message.encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    if refused:
        lines.append(f"{GUARD_HEADER}: refused")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
