"""The network guard refuses every non-public target, however it is spelled or resolved."""

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from similarity.crawl.netguard import (
    IPAddress,
    NetGuard,
    TargetRefusedError,
    VettedTarget,
    forbidden_reason,
)

PUBLIC = ipaddress.ip_address("93.184.216.34")


class TableResolver:
    """Answers from a fixed table and counts lookups; unknown names do not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = {
            host: [ipaddress.ip_address(a) for a in addresses] for host, addresses in table.items()
        }
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups.append(host)
        return self.table.get(host, [])


RESOLVER = TableResolver(
    {
        "public.example": [str(PUBLIC)],
        "metadata.google.internal": ["169.254.169.254"],
        "metadata.aws.example": ["fd00:ec2::254"],
        "intranet.example": ["10.1.2.3"],
        "rebind.example": [str(PUBLIC), "192.168.0.10"],
        "mapped.example": ["::ffff:10.0.0.1"],
        "localhost": ["127.0.0.1", "::1"],
    }
)


def vet(url: str, guard: NetGuard | None = None) -> VettedTarget:
    return asyncio.run((guard or NetGuard(RESOLVER)).vet(url))


HOSTILE_URLS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[ff02::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://localhost/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata.aws.example/",
    "http://intranet.example/",
    "http://rebind.example/",
    "http://mapped.example/",
    "http://nowhere.example/",
    "http://user:pass@public.example/",
    "http://public.example@127.0.0.1/",
    "ftp://public.example/",
    "file:///etc/passwd",
    "gopher://public.example:6379/_INFO",
    "http://public.example:22/",
    "http://public.example:25/",
    "http://public.example:6379/",
    "http://public.example:5432/",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_target_is_refused(url: str) -> None:
    with pytest.raises(TargetRefusedError):
        vet(url)


@pytest.mark.parametrize(
    "url", ["http://public.example/", "https://public.example:8443/a", "http://93.184.216.34:8080/"]
)
def test_public_web_target_is_vetted_with_its_address(url: str) -> None:
    assert vet(url).address == PUBLIC


def test_allowed_host_bypasses_address_and_port_checks() -> None:
    target = vet("http://127.0.0.1:4567/", NetGuard(RESOLVER, allow_hosts=["127.0.0.1"]))
    assert target.address == ipaddress.ip_address("127.0.0.1")


def test_allowed_host_still_refuses_credentials() -> None:
    with pytest.raises(TargetRefusedError, match="credentials"):
        vet("http://a:b@127.0.0.1/", NetGuard(RESOLVER, allow_hosts=["127.0.0.1"]))


def test_allowing_one_loopback_address_does_not_allow_another() -> None:
    guard = NetGuard(RESOLVER, allow_hosts=["127.0.0.1"])
    with pytest.raises(TargetRefusedError):
        vet("http://2130706434:80/", guard)


def test_ip_literals_are_not_sent_to_the_resolver() -> None:
    resolver = TableResolver({})
    vet("http://93.184.216.34/", NetGuard(resolver))
    assert resolver.lookups == []


PRIVATE_V4_NETWORKS = [
    ipaddress.IPv4Network(cidr)
    for cidr in (
        "10.0.0.0/8",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
    )
]


def _addresses_in(network: ipaddress.IPv4Network) -> st.SearchStrategy[ipaddress.IPv4Address]:
    return st.integers(0, network.num_addresses - 1).map(lambda offset: network[offset])


_private_v4 = st.sampled_from(PRIVATE_V4_NETWORKS).flatmap(_addresses_in)


@given(address=_private_v4)
def test_ipv6_forms_embedding_a_private_ipv4_are_refused(address: ipaddress.IPv4Address) -> None:
    embeddings = [
        ipaddress.IPv6Address(f"::ffff:{address}"),
        ipaddress.IPv6Address(int(address)),
        ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80)),
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address)),
    ]
    assert all(forbidden_reason(embedded) is not None for embedded in embeddings)
