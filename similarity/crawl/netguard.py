"""No crawler request reaches a non-public address, a non-web port or a URL with credentials.

The guard resolves a host once and hands back the vetted address; the transport connects to
that address and never resolves again, so a DNS answer cannot change between the check and the
connection (DNS rebinding). Every redirect hop is vetted the same way by the fetcher.

Refused: schemes other than http/https; userinfo in the URL; addresses that are loopback,
private, link-local, multicast, reserved, unspecified, shared (CGNAT 100.64/10), IPv6 ULA or
link-local, documentation or benchmarking ranges, the cloud metadata endpoints, and IPv6
addresses that embed any of those (IPv4-mapped, IPv4-compatible, 6to4, NAT64); a host name is
refused if any of its addresses is, so a mixed DNS answer cannot slip a private address in.

Ports: only 80, 443 and 8000-8999 (the customary alternative web ports such as 8080 and 8443)
are allowed. A strict allow-list rather than a deny-list of well-known service ports (SSH 22,
SMTP 25, Redis 6379, PostgreSQL 5432, ...), because a public host may run any service on any
other port and a crawler has no business speaking HTTP to it.

Hosts in `allow_hosts` skip the address and port checks (tests and the demo allow 127.0.0.1);
they still obey the scheme and userinfo rules.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from similarity.crawl.urls import InvalidUrlError, WebUrl, canonical_host, parse_web_url

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

WEB_PORTS = frozenset({80, 443, *range(8000, 9000)})

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class TargetRefusedError(Exception):
    """The URL may not be fetched; the message says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused {url[:200]}: {reason}")
        self.url = url
        self.reason = reason


class Resolver(Protocol):
    """Turns a host name into the addresses it currently points at."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), run in a worker thread."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        """All TCP addresses of `host`, in the order the resolver prefers."""
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return ()
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in answers:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


@dataclass(frozen=True)
class VettedTarget:
    """A URL that passed the guard and the one address it must be fetched from."""

    url: WebUrl
    address: IPAddress


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata endpoint"
    for network in _BLOCKED_NETWORKS:
        if address.version == network.version and address in network:
            return f"{address} is in non-public range {network}"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            if inner is not None:
                return f"{address} embeds {inner}"
    if not address.is_global:
        return f"{address} is not a globally routable address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class NetGuard:
    """Vets URLs before any connection: scheme, userinfo, port, then every resolved address."""

    def __init__(self, resolver: Resolver | None = None, *, allow_hosts: Iterable[str] = ()):
        self._resolver: Resolver = resolver if resolver is not None else SystemResolver()
        self._allow_hosts = frozenset(canonical_host(host) for host in allow_hosts)

    async def vet(self, url: str | WebUrl) -> VettedTarget:
        """The URL with the address to connect to; raises TargetRefusedError otherwise."""
        text = str(url)
        try:
            parsed = url if isinstance(url, WebUrl) else parse_web_url(url)
        except InvalidUrlError as error:
            raise TargetRefusedError(text, str(error)) from error
        if parsed.userinfo is not None:
            raise TargetRefusedError(text, "credentials in URLs are not allowed")
        allowed_host = parsed.host in self._allow_hosts
        if not allowed_host and parsed.port not in WEB_PORTS:
            raise TargetRefusedError(text, f"port {parsed.port} is not a web port")
        addresses = await self._addresses(parsed.host, parsed.port)
        if not addresses:
            raise TargetRefusedError(text, f"host {parsed.host} does not resolve")
        if not allowed_host:
            for address in addresses:
                reason = forbidden_reason(address)
                if reason is not None:
                    raise TargetRefusedError(text, reason)
        return VettedTarget(url=parsed, address=addresses[0])

    async def _addresses(self, host: str, port: int) -> Sequence[IPAddress]:
        try:
            return (ipaddress.ip_address(host),)
        except ValueError:
            pass
        return await self._resolver.resolve(host, port)
