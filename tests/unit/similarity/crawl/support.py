"""Shared values of the crawler tests: the work images, short limits, a loopback fetcher."""

from similarity.crawl import Fetcher, FetchLimits, HostPoliteness, NetGuard
from tests.sites import png_bytes

WORK_IMAGES = {"work-a.png": png_bytes(1, 48), "work-b.png": png_bytes(2, 48)}

TEST_LIMITS = FetchLimits(
    connect_timeout_s=1.0,
    read_timeout_s=0.3,
    deadline_s=1.0,
    max_body_bytes=1024 * 1024,
    max_decoded_bytes=2 * 1024 * 1024,
    max_redirects=5,
    max_retries=2,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
)


def make_fetcher(limits: FetchLimits = TEST_LIMITS, delay_s: float = 0.0) -> Fetcher:
    """A fetcher that may reach 127.0.0.1 only, with short test limits."""
    return Fetcher(
        NetGuard(allow_hosts=["127.0.0.1"]),
        limits=limits,
        politeness=HostPoliteness(per_host_concurrency=8, delay_s=delay_s),
    )
