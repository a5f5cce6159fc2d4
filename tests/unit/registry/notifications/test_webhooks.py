"""The webhook guard: https only, no credentials, no private or metadata addresses."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from registry.notifications.errors import WebhookTargetRefused
from registry.notifications.webhooks import WebhookGuard
from similarity.crawl.netguard import IPAddress


class FixedResolver:
    """Answers every name with the given addresses, as a hostile DNS server might."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = [ipaddress.ip_address(address) for address in addresses]

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        return self.addresses


def _check(guard: WebhookGuard, url: str) -> str:
    return str(asyncio.run(guard.check(url)).address)


def test_public_https_target_is_accepted() -> None:
    guard = WebhookGuard(resolver=FixedResolver("93.184.215.14"))
    assert _check(guard, "https://hooks.example.com/copymark") == "93.184.215.14"


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://hooks.example.com/", ("10.0.0.5",)),
        ("https://hooks.example.com/", ("93.184.215.14", "127.0.0.1")),
        ("https://hooks.example.com/", ("::ffff:192.168.1.1",)),
        ("https://169.254.169.254/latest/meta-data", ()),
        ("https://[::1]/", ()),
        ("https://hooks.example.com:22/", ("93.184.215.14",)),
        ("http://hooks.example.com/", ("93.184.215.14",)),
        ("https://user:pass@hooks.example.com/", ("93.184.215.14",)),
        ("ftp://hooks.example.com/", ("93.184.215.14",)),
        ("https://hooks.example.com/", ()),
    ],
)
def test_unsafe_targets_are_refused(url: str, addresses: tuple[str, ...]) -> None:
    guard = WebhookGuard(resolver=FixedResolver(*addresses))
    with pytest.raises(WebhookTargetRefused):
        _check(guard, url)


def test_allow_listed_loopback_host_may_use_http() -> None:
    guard = WebhookGuard(allow_hosts=["127.0.0.1"])
    assert _check(guard, "http://127.0.0.1:9/hook") == "127.0.0.1"
