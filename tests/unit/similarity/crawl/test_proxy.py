"""The guarded proxy forwards what the guard allows, refuses the rest and survives hostile heads.

The guard allows 127.0.0.1 only; a canary on 127.0.0.2 (on a web port, so only its address
is wrong) counts every connection and must see none.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TypeVar

import httpx
import pytest

from similarity.crawl.netguard import IPAddress, NetGuard
from similarity.crawl.proxy import GUARD_HEADER, GuardedProxy
from tests.sites import CanaryServer, LoopbackSite

T = TypeVar("T")


@pytest.fixture
def canary() -> Iterator[CanaryServer]:
    with CanaryServer("127.0.0.2") as server:
        yield server


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    with LoopbackSite() as served:
        yield served


def through_proxy(use: Callable[[GuardedProxy], Awaitable[T]], guard: NetGuard | None = None) -> T:
    async def go() -> T:
        async with GuardedProxy(guard or NetGuard(allow_hosts=["127.0.0.1"])) as proxy:
            return await use(proxy)

    return asyncio.run(go())


async def get(proxy: GuardedProxy, url: str) -> httpx.Response:
    async with httpx.AsyncClient(proxy=proxy.url, trust_env=False, timeout=5) as client:
        return await client.get(url)


async def exchange(proxy: GuardedProxy, data: bytes, then: bytes = b"") -> bytes:
    """Send `data`, then `then` once an answer head came, and read until the proxy closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if then:
            writer.write(then)
            await writer.drain()
        return answer + await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_an_allowed_target_is_forwarded(site: LoopbackSite) -> None:
    response = through_proxy(lambda proxy: get(proxy, site.url("/")))
    assert response.status_code == 200
    assert b"Loopback site" in response.content
    assert site.hits("/") == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://{canary}/",
        "http://{canary}/latest/meta-data/",
        "http://2130706434:{port}/",
        "http://0x7f000002:{port}/",
        "http://[::ffff:127.0.0.2]:{port}/",
        "http://user:secret@{canary}/",
    ],
)
def test_a_refused_target_answers_403_and_is_never_connected(
    canary: CanaryServer, url: str
) -> None:
    target = url.format(canary=f"{canary.host}:{canary.port}", port=canary.port)
    response = through_proxy(lambda proxy: get(proxy, target))
    assert response.status_code == 403
    assert response.headers[GUARD_HEADER] == "refused"
    assert "127.0.0.2" not in response.text
    assert canary.reached == 0


def test_a_server_cannot_pass_its_answer_off_as_a_refusal(site: LoopbackSite) -> None:
    site.add_page("/copy", b"<p>copy</p>", headers={GUARD_HEADER: "refused"})
    response = through_proxy(lambda proxy: get(proxy, site.url("/copy")))
    assert response.status_code == 200
    assert GUARD_HEADER not in response.headers
    assert response.headers["connection"] == "close"


def test_a_loopback_name_the_crawl_does_not_allow_is_refused(site: LoopbackSite) -> None:
    response = through_proxy(lambda proxy: get(proxy, f"http://localhost:{site.port}/"))
    assert response.status_code == 403
    assert site.total_hits == 0


def test_connect_to_a_refused_address_is_refused(canary: CanaryServer) -> None:
    request = f"CONNECT {canary.host}:{canary.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answer = through_proxy(lambda proxy: exchange(proxy, request))
    assert status(answer) == 403
    assert canary.reached == 0


def test_https_through_a_refused_tunnel_fails_without_reaching_the_target(
    canary: CanaryServer,
) -> None:
    with pytest.raises(httpx.ProxyError):
        through_proxy(lambda proxy: get(proxy, canary.url("/", "https")))
    assert canary.reached == 0


def test_connect_to_an_allowed_target_tunnels_both_ways(site: LoopbackSite) -> None:
    request = f"CONNECT 127.0.0.1:{site.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    inner = b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answer = through_proxy(lambda proxy: exchange(proxy, request, then=inner))
    assert answer.startswith(b"HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200")
    assert b"Disallow: /private/" in answer
    assert site.hits("/robots.txt") == 1


class RebindingResolver:
    """Answers 127.0.0.1 the first time a name is looked up, the canary's address after."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1" if len(self.lookups) == 1 else "127.0.0.2")]


def test_the_proxy_connects_to_the_address_it_vetted_and_resolves_once(
    site: LoopbackSite, canary: CanaryServer
) -> None:
    resolver = RebindingResolver()
    guard = NetGuard(resolver, allow_hosts=["site.test"])
    response = through_proxy(lambda proxy: get(proxy, f"http://site.test:{site.port}/"), guard)
    assert response.status_code == 200
    assert resolver.lookups == ["site.test"]
    assert site.hits("/") == 1
    assert canary.reached == 0


HOSTILE_HEADS = {
    "binary": (b"\x00\x01\x02 \xff\xfe HTTP/1.1\r\n\r\n", 400),
    "four-part request line": (b"GET http://127.0.0.1:{port}/ HTTP/1.1 x\r\n\r\n", 400),
    "origin-form": (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n", 400),
    "https in absolute form": (b"GET https://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n", 400),
    "other version": (b"GET http://127.0.0.1:{port}/ HTTP/2.0\r\n\r\n", 400),
    "bare CR in the target": (b"GET http://127.0.0.1:{port}/\rx HTTP/1.1\r\n\r\n", 400),
    "bare LF smuggling a header": (
        b"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nX: a\nHost: 127.0.0.2\r\n\r\n",
        400,
    ),
    "header without colon": (b"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost x\r\n\r\n", 400),
    "folded header": (b"GET http://127.0.0.1:{port}/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
    "CONNECT with userinfo": (b"CONNECT 127.0.0.1:{port}@127.0.0.2:80 HTTP/1.1\r\n\r\n", 400),
    "CONNECT without port": (b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n", 400),
    "CONNECT to a broken IPv6": (b"CONNECT [::1:{port} HTTP/1.1\r\n\r\n", 400),
    "CONNECT with a path": (b"CONNECT 127.0.0.1:{port}/x HTTP/1.1\r\n\r\n", 400),
    "huge head": (b"GET http://127.0.0.1:{port}/" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 431),
    "chunked body": (
        b"POST http://127.0.0.1:{port}/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
    "two lengths": (
        b"POST http://127.0.0.1:{port}/ HTTP/1.1\r\nContent-Length: 1\r\n"
        b"Content-Length: 2\r\n\r\nab",
        400,
    ),
}


@pytest.mark.parametrize("name", HOSTILE_HEADS)
def test_a_hostile_request_head_is_answered_and_the_proxy_keeps_serving(
    site: LoopbackSite, canary: CanaryServer, name: str
) -> None:
    head, expected = HOSTILE_HEADS[name]

    async def use(proxy: GuardedProxy) -> tuple[bytes, httpx.Response]:
        answer = await exchange(proxy, head.replace(b"{port}", str(site.port).encode()))
        return answer, await get(proxy, site.url("/robots.txt"))

    answer, afterwards = through_proxy(use)
    assert status(answer) == expected
    assert site.hits_under("/") == site.hits("/robots.txt") == 1
    assert afterwards.status_code == 200
    assert canary.reached == 0


def test_a_client_hanging_up_mid_head_does_not_stop_the_proxy(site: LoopbackSite) -> None:
    async def use(proxy: GuardedProxy) -> httpx.Response:
        _reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET http://127.0.0.1/ HT")
        await writer.drain()
        writer.close()
        return await get(proxy, site.url("/"))

    assert through_proxy(use).status_code == 200
