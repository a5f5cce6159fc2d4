"""The fetcher keeps exact exchanges, follows vetted redirects and bounds time and size."""

import asyncio
import gzip
import ipaddress
from collections.abc import Sequence
from datetime import UTC

import pytest

from similarity.crawl import Fetcher, FetchError, FetchRecord, IssueKind, NetGuard, Validators
from similarity.crawl.netguard import IPAddress
from tests.sites import LoopbackSite
from tests.unit.similarity.crawl.support import TEST_LIMITS, WORK_IMAGES, make_fetcher


def fetch(
    url: str, fetcher: Fetcher | None = None, validators: Validators | None = None
) -> FetchRecord:
    async def go() -> FetchRecord:
        async with fetcher or make_fetcher() as client:
            return await client.fetch(url, validators=validators)

    return asyncio.run(go())


def failure(url: str, fetcher: Fetcher | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, fetcher)
    return caught.value


def test_record_keeps_the_exact_image_bytes_and_exchange(site: LoopbackSite) -> None:
    record = fetch(site.url("/images/work-a.png"))
    assert record.content == WORK_IMAGES["work-a.png"]
    assert record.body == record.content
    assert record.status == 200
    assert record.resolved_ip == "127.0.0.1"
    assert record.tls_peer_subject is None
    assert ("User-Agent", make_fetcher().user_agent) in record.request_headers
    assert record.header("content-type") == "image/png"
    assert record.started_at.tzinfo is UTC
    assert record.started_at <= record.finished_at


def test_gzip_body_is_kept_as_sent_and_decoded_for_use(site: LoopbackSite) -> None:
    page = b"<html>" + b"compressible " * 1000 + b"</html>"
    sent = gzip.compress(page)
    site.add_page("/gzipped", sent, "text/html", {"Content-Encoding": "gzip"})
    record = fetch(site.url("/gzipped"))
    assert record.body == sent
    assert record.content == page


def test_redirects_are_followed_and_recorded(site: LoopbackSite) -> None:
    record = fetch(site.url("/redirect/chain/3"))
    assert record.final_url == site.url("/redirect/chain/0")
    assert [hop.url for hop in record.redirect_chain] == [
        site.url(f"/redirect/chain/{n}") for n in (3, 2, 1)
    ]
    assert record.url == site.url("/redirect/chain/3")


def test_redirect_loop_is_reported(site: LoopbackSite) -> None:
    assert failure(site.url("/redirect/loop-a")).kind is IssueKind.REDIRECT_LOOP


def test_too_many_redirects_are_reported(site: LoopbackSite) -> None:
    assert failure(site.url("/redirect/chain/9")).kind is IssueKind.TOO_MANY_REDIRECTS


def test_redirect_to_a_private_address_is_refused_before_connecting(
    site: LoopbackSite, canary: LoopbackSite
) -> None:
    assert failure(site.url("/redirect/private")).kind is IssueKind.REFUSED
    assert canary.total_hits == 0


@pytest.mark.parametrize(
    "host", ["127.0.0.2", "2130706434", "0x7f000002", "0177.0.0.2", "127.0.2", "[::ffff:127.0.0.2]"]
)
def test_canary_is_never_reached_however_spelled(canary: LoopbackSite, host: str) -> None:
    assert failure(f"http://{host}:{canary.port}/").kind is IssueKind.REFUSED
    assert canary.total_hits == 0


def test_headers_that_never_come_time_out(site: LoopbackSite) -> None:
    assert failure(site.url("/slow")).kind is IssueKind.TIMEOUT


def test_trickling_body_hits_the_total_deadline(site: LoopbackSite) -> None:
    error = failure(site.url("/trickle"))
    assert error.kind is IssueKind.TIMEOUT
    assert "within" in error.message


@pytest.mark.parametrize("path", ["/huge", "/huge-declared", "/bomb"])
def test_oversized_bodies_are_aborted(site: LoopbackSite, path: str) -> None:
    assert failure(site.url(path)).kind is IssueKind.TOO_LARGE


def test_transient_errors_are_retried(site: LoopbackSite) -> None:
    record = fetch(site.url("/flaky"))
    assert record.status == 200
    assert site.hits("/flaky") == TEST_LIMITS.max_retries + 1


def test_validators_turn_an_unchanged_page_into_304(site: LoopbackSite) -> None:
    first = fetch(site.url("/etag"))
    again = fetch(site.url("/etag"), validators=first.validators)
    assert first.status == 200
    assert again.status == 304


class CountingResolver:
    def __init__(self, address: str) -> None:
        self.address = ipaddress.ip_address(address)
        self.lookups = 0

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.lookups += 1
        return [self.address]


def test_connection_goes_to_the_vetted_address_without_a_second_lookup(site: LoopbackSite) -> None:
    resolver = CountingResolver("127.0.0.1")
    fetcher = Fetcher(NetGuard(resolver, allow_hosts=["site.test"]), limits=TEST_LIMITS)
    record = fetch(f"http://site.test:{site.port}/images/work-b.png", fetcher)
    assert record.content == WORK_IMAGES["work-b.png"]
    assert record.resolved_ip == "127.0.0.1"
    assert resolver.lookups == 1
