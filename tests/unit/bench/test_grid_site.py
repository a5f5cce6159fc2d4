"""The benchmark's synthetic site puts every page it serves within the crawler's reach."""

from __future__ import annotations

import pytest

from bench.grid_site import GridShape
from similarity.crawl.crawler import CrawlScope


def depth_of(page: int, branching: int) -> int:
    """Links go from page n to pages n*b+1 … n*b+b, so a page's parent is (page - 1) // b."""
    depth = 0
    while page > 0:
        page = (page - 1) // branching
        depth += 1
    return depth


@pytest.mark.parametrize("pages", [8, 96, 2_000, 10_000, 100_000])
def test_every_page_of_a_reachable_grid_is_within_the_crawlers_depth(pages: int) -> None:
    shape = GridShape.reachable(8, pages)
    assert shape.page_count() == max(8, pages // 8 * 8)
    assert depth_of(shape.pages_per_host - 1, shape.branching) <= CrawlScope.max_depth
