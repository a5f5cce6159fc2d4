"""Chart layouts: the log tree, its growth, the score bar, the contract split, royalty bars,
a party's earnings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontend.charts import (
    CASES_CHART_HEIGHT,
    CASES_CHART_WIDTH,
    EARNINGS_CHART_HEIGHT,
    EXPANDED_SUBTREE_MAX,
    ROYALTY_CHART_HEIGHT,
    cases_chart,
    earnings_charts,
    growth_chart,
    perfect_subtrees,
    royalty_chart,
    score_bar_percent,
    share_slices,
    timestamp_label,
    tree_picture,
)
from licensing.contract import parse_contract_data
from licensing.money import Money
from licensing.service.royalties import RoyaltyReport
from registry.log.merkle import fold_subtrees, leaf_hash, root
from registry.log.signing import SignedTreeHead
from registry.log.store import LogEntry
from tests.unit.licensing.factories import contract_data


@given(st.integers(min_value=1, max_value=1 << 40))
def test_drawn_subtrees_cover_the_log_in_order_with_the_newest_expanded(size: int) -> None:
    parts = perfect_subtrees(size)
    assert parts[0][0] == 0
    assert all(
        start + length == following for (start, length), (following, _) in itertools.pairwise(parts)
    )
    assert parts[-1][0] + parts[-1][1] == size
    assert all(length & (length - 1) == 0 for _, length in parts)
    assert parts[-1][1] <= EXPANDED_SUBTREE_MAX


@given(st.integers(min_value=1, max_value=300))
def test_folding_the_drawn_subtrees_gives_the_rfc_9162_root(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    subtree_roots = [
        root(leaves[start : start + length]) for start, length in perfect_subtrees(size)
    ]
    assert fold_subtrees(subtree_roots) == root(leaves)


def _entry(index: int) -> LogEntry:
    return LogEntry(index, b"x", leaf_hash(b"x"), "registration", datetime(2026, 1, 1, tzinfo=UTC))


@given(st.integers(min_value=1, max_value=5000))
def test_tree_picture_has_one_root_and_fits_its_box(size: int) -> None:
    picture = tree_picture(size, _entry)
    assert [node.kind for node in picture.nodes].count("root") == 1
    assert all(
        0 <= node.x <= picture.width and 0 <= node.y <= picture.height for node in picture.nodes
    )


def test_tree_picture_asks_only_for_the_drawn_leaves() -> None:
    asked: list[int] = []

    def leaf_at(index: int) -> LogEntry:
        asked.append(index)
        return _entry(index)

    tree_picture(1_000_000, leaf_at)
    assert len(asked) <= 2 * EXPANDED_SUBTREE_MAX
    assert max(asked) == 999_999


def test_tree_picture_draws_every_leaf_of_a_small_tree() -> None:
    picture = tree_picture(3, _entry)
    assert [node.href for node in picture.nodes if node.kind.startswith("leaf")] == [
        "/api/v1/log/leaves/0",
        "/api/v1/log/leaves/1",
        "/api/v1/log/leaves/2",
    ]
    assert picture.subtrees == []


def _head(size: int, timestamp: int) -> SignedTreeHead:
    return SignedTreeHead(size, b"\0" * 32, timestamp, "key", b"")


def test_growth_chart_is_absent_before_the_first_head() -> None:
    assert growth_chart([]) is None


def test_growth_chart_rises_with_the_tree() -> None:
    chart = growth_chart([_head(1, 1000), _head(5, 2000), _head(10, 3000)])
    assert chart is not None
    ys = [float(point.split(",")[1]) for point in chart.points.split()]
    assert ys == sorted(ys, reverse=True)
    assert chart.max_size == 10


def test_timestamps_are_labelled_in_utc() -> None:
    assert timestamp_label(1_767_225_600_000) == "2026-01-01 00:00:00 UTC"


@given(st.floats(min_value=-100, max_value=100))
def test_score_bar_stays_within_the_bar(score: float) -> None:
    assert 0 <= score_bar_percent(score) <= 100


def test_score_bar_puts_the_threshold_in_the_middle() -> None:
    assert score_bar_percent(0.0) == 50.0


@given(st.sets(st.integers(min_value=1, max_value=9_999), max_size=5))
def test_share_slices_tile_the_bar_without_gaps(cuts: set[int]) -> None:
    bounds = [0, *sorted(cuts), 10_000]
    parties = [
        {
            "id": f"p{index}",
            "account": f"acct:p{index}@example.com",
            "role": "creator",
            "share_bp": end - start,
        }
        for index, (start, end) in enumerate(itertools.pairwise(bounds))
    ]
    document = contract_data(parties=parties)
    document.pop("platform_fee")
    slices = share_slices(parse_contract_data(document))
    assert [part.share_bp for part in slices] == [party["share_bp"] for party in parties]
    for before, after in itertools.pairwise(slices):
        assert after.start_percent == pytest.approx(before.start_percent + before.width_percent)
    assert slices[-1].start_percent + slices[-1].width_percent == pytest.approx(100)


def report(report_id: str, amounts: dict[str, int]) -> RoyaltyReport:
    return RoyaltyReport(
        grant_id=1,
        report_id=report_id,
        reported_at=datetime(2026, 11, 1, tzinfo=UTC),
        gross=Money(sum(amounts.values()), "USD"),
        amounts=tuple(sorted(amounts.items())),
    )


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["alice", "bob", "carol"]),
            st.integers(min_value=0, max_value=10**12),
            min_size=1,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_each_bar_is_as_tall_as_its_gross_on_one_scale(splits: list[dict[str, int]]) -> None:
    reports = [report(f"r{index}", amounts) for index, amounts in enumerate(splits)]
    chart = royalty_chart(reports)
    assert chart is not None
    tallest = max(sum(amounts.values()) for amounts in splits) or 1
    for bar, amounts in zip(chart.bars, splits, strict=True):
        drawn = sum(segment.height for segment in bar.segments)
        expected = ROYALTY_CHART_HEIGHT * sum(amounts.values()) / tallest
        assert drawn == pytest.approx(expected, abs=1e-6)
        assert all(segment.y >= -1e-6 for segment in bar.segments)
    for left, right in itertools.pairwise(chart.bars):
        assert left.x + left.width <= right.x


def test_a_party_missing_from_a_report_shows_a_dash() -> None:
    chart = royalty_chart([report("r0", {"alice": 150}), report("r1", {"bob": 2_500})])
    assert chart is not None
    assert chart.parties == ("alice", "bob")
    assert [bar.amounts for bar in chart.bars] == [("1.50 USD", "—"), ("—", "25.00 USD")]


def test_no_reports_draw_no_chart() -> None:
    assert royalty_chart([]) is None


def test_earnings_are_charted_per_currency_by_month_and_by_work_scaled_to_the_largest() -> None:
    points = [
        ("2026-10", "koi", "USD", 10_000),
        ("2026-11", "koi", "USD", 30_000),
        ("2026-11", "wave", "USD", -5_000),
        ("2026-11", "锦鲤", "CNY", 800),
    ]
    charts = earnings_charts(points, str)
    assert [chart.currency for chart in charts] == ["CNY", "USD"]
    usd = charts[1]
    assert [(bar.label, bar.amount) for bar in usd.by_month] == [
        ("2026-10", "100.00 USD"),
        ("2026-11", "250.00 USD"),
    ]
    october, november = usd.by_month
    assert november.height == EARNINGS_CHART_HEIGHT
    assert october.height == pytest.approx(EARNINGS_CHART_HEIGHT * 10_000 / 25_000)
    assert october.y + october.height == november.y + november.height == EARNINGS_CHART_HEIGHT
    assert [bar.label for bar in usd.by_work] == ["koi", "wave"]
    assert usd.by_work[1].width == 0  # a work whose refunds outweigh its sales draws no bar


def test_nothing_earned_draws_no_chart() -> None:
    assert earnings_charts([("2026-11", "koi", "USD", 0)], str) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(0, 500)).filter(any),
        min_size=1,
        max_size=12,
    )
)
def test_the_cases_chart_scales_to_the_busiest_month_and_fits_its_width(
    counts: list[tuple[int, int]],
) -> None:
    months = [
        (f"2026-{number + 1:02d}", opened, resolved)
        for number, (opened, resolved) in enumerate(counts)
    ]
    bars = cases_chart(months)
    top = max(max(pair) for pair in counts)
    assert [bar.month for bar in bars] == [month for month, _o, _r in months]
    assert max(max(bar.opened_height, bar.resolved_height) for bar in bars) == CASES_CHART_HEIGHT
    for bar, (_month, opened, resolved) in zip(bars, months, strict=True):
        assert bar.opened_height == pytest.approx(CASES_CHART_HEIGHT * opened / top)
        assert bar.resolved_height == pytest.approx(CASES_CHART_HEIGHT * resolved / top)
        assert bar.x >= 0
        assert bar.x + 2 * bar.bar_width <= CASES_CHART_WIDTH
    assert all(left.x + 2 * left.bar_width <= right.x for left, right in itertools.pairwise(bars))


def test_no_cases_draw_no_chart() -> None:
    assert cases_chart([]) == ()
    assert cases_chart([("2026-01", 0, 0)]) == ()
