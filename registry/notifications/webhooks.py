"""Webhook delivery: every target URL passes the SSRF guard, and the connection goes to the
address the guard vetted, so a DNS answer cannot change between the check and the request.

Only https is allowed, except for hosts in the allow-list (a loopback receiver in tests and
development), which also skip the address and port checks of `similarity.crawl.netguard`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx

from registry.messages import N_
from registry.notifications.errors import WebhookTargetRefused
from registry.notifications.signatures import SIGNATURE_HEADER, sign_webhook
from similarity.crawl.netguard import NetGuard, Resolver, TargetRefusedError, VettedTarget
from similarity.crawl.transport import PinnedTransport
from similarity.crawl.urls import InvalidUrlError, WebUrl, canonical_host, parse_web_url

DELIVERY_HEADER = "Copymark-Delivery"
EVENT_HEADER = "Copymark-Event"
USER_AGENT = "Copymark-Webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    """What one try produced: an HTTP status, or the error that prevented one."""

    status_code: int | None
    error: str | None
    duration_ms: float
    permanent: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookGuard:
    """Vets webhook URLs: https only (allow-listed hosts excepted), public addresses only."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self.allow_hosts = frozenset(canonical_host(host) for host in allow_hosts)
        self.netguard = NetGuard(resolver, allow_hosts=self.allow_hosts)

    def parse(self, url: str) -> WebUrl:
        """The canonical URL if its form is acceptable; no network lookup."""
        try:
            parsed = parse_web_url(url)
        except InvalidUrlError as error:
            raise WebhookTargetRefused(
                N_("webhook URL refused: %(reason)s"), reason=str(error)
            ) from None
        if parsed.userinfo is not None:
            raise WebhookTargetRefused(
                N_("webhook URL refused: credentials in URLs are not allowed")
            )
        if parsed.scheme != "https" and parsed.host not in self.allow_hosts:
            raise WebhookTargetRefused(N_("webhook URL refused: only https URLs are accepted"))
        return parsed

    async def check(self, url: str) -> VettedTarget:
        """The URL and the one address it may be sent to; raises WebhookTargetRefused."""
        parsed = self.parse(url)
        try:
            return await self.netguard.vet(parsed)
        except TargetRefusedError as refusal:
            raise WebhookTargetRefused(
                N_("webhook URL refused: %(reason)s"), reason=refusal.reason
            ) from None

    async def vet(self, url: str) -> tuple[WebUrl, PinnedTransport]:
        """The URL and a transport pinned to its vetted address; raises WebhookTargetRefused."""
        target = await self.check(url)
        transport = PinnedTransport(max_connections=1, max_keepalive_connections=0)
        transport.pin(target.url.host, target.url.port, target.address)
        return target.url, transport


async def post_webhook(
    guard: WebhookGuard,
    url: str,
    *,
    secret: str,
    body: bytes,
    delivery_id: int,
    event: str,
    now: datetime,
    timeout_s: float,
) -> AttemptOutcome:
    """POST a signed body once; never raises for network or HTTP failures, reports them."""
    started = time.perf_counter()

    def outcome(status_code: int | None, error: str | None) -> AttemptOutcome:
        return AttemptOutcome(status_code, error, (time.perf_counter() - started) * 1000)

    try:
        target, transport = await guard.vet(url)
    except WebhookTargetRefused as refusal:
        return outcome(None, refusal.message)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign_webhook(secret, body, now),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: event,
    }
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout_s, follow_redirects=False
    ) as client:
        try:
            # The answer's body is of no use to us: read only the status line and headers.
            async with client.stream("POST", str(target), content=body, headers=headers) as reply:
                status = reply.status_code
        except httpx.HTTPError as error:
            return outcome(None, f"{type(error).__name__}: {error}"[:1000])
    if not 200 <= status < 300:
        return outcome(status, f"receiver answered HTTP {status}")
    return outcome(status, None)
