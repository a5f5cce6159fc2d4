"""Chart layouts for the pages' pictures: pure functions, data in, coordinates out.

Templates draw what these return as SVG or CSS bars; nothing here reads the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from licensing.contract import Contract
from licensing.money import Money
from licensing.service.royalties import RoyaltyReport
from registry.log.signing import SignedTreeHead
from registry.log.store import LogEntry

# Scores run from about -2 (nothing alike) to about +1.2 (verified copy); the bar shows
# [-1, +1] so the decision threshold (0) sits in its middle.
SCORE_BAR_MIN: Final = -1.0
SCORE_BAR_MAX: Final = 1.0


def score_bar_percent(score: float) -> float:
    """Where a score sits on the score bar, 0 to 100."""
    position = (score - SCORE_BAR_MIN) / (SCORE_BAR_MAX - SCORE_BAR_MIN)
    return round(100 * min(max(position, 0.0), 1.0), 1)


@dataclass(frozen=True, slots=True)
class TreeNode:
    x: float
    y: float
    kind: str
    label: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class TreeEdge:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Subtree:
    """A perfect subtree of the log drawn folded, as a triangle under its root."""

    apex_x: float
    apex_y: float
    left: float
    right: float
    base_y: float
    label: str

    @property
    def points(self) -> str:
        return f"{self.apex_x},{self.apex_y} {self.left},{self.base_y} {self.right},{self.base_y}"


@dataclass(frozen=True, slots=True)
class TreePicture:
    """The log's tree as RFC 9162 shapes it: older history folded, the newest leaves drawn."""

    width: float
    height: float
    nodes: list[TreeNode]
    edges: list[TreeEdge]
    subtrees: list[Subtree]


EXPANDED_SUBTREE_MAX: Final = 8
_SLOT: Final = 34.0
_LEVEL: Final = 30.0
_FOLDED_SLOTS: Final = 3
_MARGIN: Final = 20.0


def perfect_subtrees(tree_size: int) -> list[tuple[int, int]]:
    """(start, size) of the perfect subtrees whose right-folded joins form the RFC 9162 root.

    The last subtree is halved until small enough to draw leaf by leaf: a halved perfect
    subtree joined by one node is the same tree, so the fold still gives the true root.
    """
    parts: list[tuple[int, int]] = []
    start = 0
    for bit in reversed(range(tree_size.bit_length())):
        size = 1 << bit
        if tree_size & size:
            parts.append((start, size))
            start += size
    while parts and parts[-1][1] > EXPANDED_SUBTREE_MAX:
        last_start, last_size = parts.pop()
        half = last_size // 2
        parts += [(last_start, half), (last_start + half, half)]
    return parts


def tree_picture(tree_size: int, leaf_at: Callable[[int], LogEntry]) -> TreePicture:
    """Lay out the tree of `tree_size` leaves; `leaf_at` is asked only for the drawn leaves."""
    nodes: list[TreeNode] = []
    edges: list[TreeEdge] = []
    folded: list[Subtree] = []
    roots: list[tuple[float, float]] = []
    leaf_y = 0.0
    cursor = 0.0
    for start, size in perfect_subtrees(tree_size):
        if size <= EXPANDED_SUBTREE_MAX:
            level = [(cursor + (i + 0.5) * _SLOT, leaf_y) for i in range(size)]
            for i, (x, y) in enumerate(level):
                entry = leaf_at(start + i)
                nodes.append(
                    TreeNode(
                        x,
                        y,
                        f"leaf ev-{entry.event_type}",
                        f"leaf {entry.index}: {entry.event_type}, {entry.leaf_hash.hex()[:16]}…",
                        f"/api/v1/log/leaves/{entry.index}",
                    )
                )
            while len(level) > 1:
                parents = []
                for left, right in zip(level[::2], level[1::2], strict=True):
                    parent = ((left[0] + right[0]) / 2, left[1] - _LEVEL)
                    edges += [TreeEdge(*parent, *left), TreeEdge(*parent, *right)]
                    nodes.append(TreeNode(*parent, "inner", "hash of the two below"))
                    parents.append(parent)
                level = parents
            roots.append(level[0])
            cursor += size * _SLOT
        else:
            base_left, base_right = cursor + 4, cursor + _FOLDED_SLOTS * _SLOT - 4
            apex = ((base_left + base_right) / 2, leaf_y - 2 * _LEVEL)
            folded.append(
                Subtree(*apex, base_left, base_right, leaf_y + 6, f"{start}–{start + size - 1}")
            )
            roots.append(apex)
            cursor += _FOLDED_SLOTS * _SLOT
        cursor += _SLOT / 3
    if roots:
        joined = roots[-1]
        for root in reversed(roots[:-1]):
            parent = ((root[0] + joined[0]) / 2, min(root[1], joined[1]) - _LEVEL)
            edges += [TreeEdge(*parent, *root), TreeEdge(*parent, *joined)]
            nodes.append(TreeNode(*parent, "inner", "hash of the two below"))
            joined = parent
        nodes.append(TreeNode(*joined, "root", f"root of {tree_size} leaves"))
    return _shifted(nodes, edges, folded, cursor)


def _shifted(
    nodes: list[TreeNode], edges: list[TreeEdge], folded: list[Subtree], width: float
) -> TreePicture:
    """Move the drawing so its top sits at the margin (the layout grows upwards from y=0)."""
    top = min([node.y for node in nodes] + [-2 * _LEVEL])
    dy = _MARGIN - top
    return TreePicture(
        width=max(width, _SLOT),
        height=dy + _MARGIN + 10,
        nodes=[replace(node, y=node.y + dy) for node in nodes],
        edges=[replace(edge, y1=edge.y1 + dy, y2=edge.y2 + dy) for edge in edges],
        subtrees=[
            replace(part, apex_y=part.apex_y + dy, base_y=part.base_y + dy) for part in folded
        ],
    )


@dataclass(frozen=True, slots=True)
class GrowthChart:
    """Tree size over time from the signed heads, as an SVG polyline in a 600×160 box."""

    points: str
    latest_x: float
    latest_y: float
    first: str
    last: str
    max_size: int
    heads: int


_CHART_WIDTH: Final = 600.0
_CHART_HEIGHT: Final = 160.0


def growth_chart(heads: Sequence[SignedTreeHead]) -> GrowthChart | None:
    """A step line of tree size against signing time; None before the first head."""
    if not heads:
        return None
    first, last = heads[0].timestamp, heads[-1].timestamp
    span = max(last - first, 1)
    top = max(head.tree_size for head in heads) or 1
    points: list[str] = []
    previous_y: float | None = None
    for head in heads:
        x = _CHART_WIDTH * (head.timestamp - first) / span if last > first else _CHART_WIDTH
        y = _CHART_HEIGHT * (1 - head.tree_size / top)
        if previous_y is not None:
            points.append(f"{x:.1f},{previous_y:.1f}")
        points.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    latest_x, latest_y = (float(value) for value in points[-1].split(","))
    return GrowthChart(
        " ".join(points),
        latest_x,
        latest_y,
        timestamp_label(first),
        timestamp_label(last),
        top,
        len(heads),
    )


def timestamp_label(timestamp_ms: int) -> str:
    """A signing time as the log page and the growth chart show it, in UTC."""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class ShareSlice:
    """One party's share of the parties' pool as a segment of a 0-100 bar."""

    party_id: str
    role: str
    share_bp: int
    start_percent: float

    @property
    def width_percent(self) -> float:
        return self.share_bp / 100

    @property
    def label(self) -> str:
        return f"{self.party_id} ({self.role}) {self.share_bp / 100:g}%"


def share_slices(contract: Contract) -> list[ShareSlice]:
    """The contract's parties laid end to end by share, in contract order."""
    slices: list[ShareSlice] = []
    start = 0.0
    for party in contract.parties:
        slices.append(ShareSlice(party.id, str(party.role), party.share_bp, start))
        start += party.share_bp / 100
    return slices


@dataclass(frozen=True, slots=True)
class RoyaltySegment:
    """One party's part of a report's bar, in SVG units from the chart's top."""

    party: str
    colour: int
    y: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class RoyaltyBar:
    """One sales report as a stack of its parties' amounts."""

    report: RoyaltyReport
    x: float
    width: float
    segments: tuple[RoyaltySegment, ...]
    amounts: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.report.report_id}: {self.report.gross}"


@dataclass(frozen=True, slots=True)
class RoyaltyChart:
    """The royalty history as stacked bars scaled to the largest report, with its legend."""

    bars: tuple[RoyaltyBar, ...]
    parties: tuple[str, ...]
    top_label: str


ROYALTY_CHART_WIDTH: Final = 600.0
ROYALTY_CHART_HEIGHT: Final = 180.0
ROYALTY_BAR_MAX_WIDTH: Final = 60.0


def royalty_chart(reports: Sequence[RoyaltyReport]) -> RoyaltyChart | None:
    """Stack each report's party amounts into a bar as tall as its gross; None with no reports."""
    if not reports:
        return None
    parties = tuple(sorted({party for report in reports for party, _amount in report.amounts}))
    colours = {party: index % 6 for index, party in enumerate(parties)}
    tallest = max(reports, key=lambda report: report.gross.amount_minor)
    scale = ROYALTY_CHART_HEIGHT / max(tallest.gross.amount_minor, 1)
    slot = ROYALTY_CHART_WIDTH / len(reports)
    width = min(slot * 0.7, ROYALTY_BAR_MAX_WIDTH)
    bars: list[RoyaltyBar] = []
    for index, report in enumerate(reports):
        owed = dict(report.amounts)
        segments: list[RoyaltySegment] = []
        bottom = ROYALTY_CHART_HEIGHT
        for party in parties:
            amount = max(owed.get(party, 0), 0)
            if amount == 0:
                continue
            height = amount * scale
            bottom -= height
            money = Money(amount, report.gross.currency)
            segments.append(
                RoyaltySegment(party, colours[party], bottom, height, f"{party} {money}")
            )
        amounts = tuple(
            str(Money(owed[party], report.gross.currency)) if party in owed else "—"
            for party in parties
        )
        x = slot * index + (slot - width) / 2
        bars.append(RoyaltyBar(report, x, width, tuple(segments), amounts))
    return RoyaltyChart(tuple(bars), parties, str(tallest.gross))


@dataclass(frozen=True, slots=True)
class EarningsBar:
    """One bar of an earnings chart: a month or a work, its amount and where it is drawn."""

    label: str
    amount: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class EarningsChart:
    """What one party earned in one currency, by month and by work, scaled to the largest bar."""

    currency: str
    by_month: tuple[EarningsBar, ...]
    by_work: tuple[EarningsBar, ...]


EARNINGS_CHART_WIDTH: Final = 600.0
EARNINGS_CHART_HEIGHT: Final = 160.0
EARNINGS_WORK_ROW: Final = 22.0
EARNINGS_MONTHS: Final = 12


def _column_bars(
    totals: Sequence[tuple[str, int]], currency: str, format_amount: Callable[[Money], str]
) -> tuple[EarningsBar, ...]:
    top = max((amount for _label, amount in totals), default=0)
    if top <= 0:
        return ()
    slot = EARNINGS_CHART_WIDTH / max(len(totals), 1)
    width = min(slot * 0.7, 48.0)
    bars = []
    for position, (label, amount) in enumerate(totals):
        height = EARNINGS_CHART_HEIGHT * max(amount, 0) / top
        bars.append(
            EarningsBar(
                label=label,
                amount=format_amount(Money(amount, currency)),
                x=position * slot + (slot - width) / 2,
                y=EARNINGS_CHART_HEIGHT - height,
                width=width,
                height=height,
            )
        )
    return tuple(bars)


def _row_bars(
    totals: Sequence[tuple[str, int]], currency: str, format_amount: Callable[[Money], str]
) -> tuple[EarningsBar, ...]:
    top = max((amount for _label, amount in totals), default=0)
    if top <= 0:
        return ()
    return tuple(
        EarningsBar(
            label=label,
            amount=format_amount(Money(amount, currency)),
            x=0.0,
            y=position * EARNINGS_WORK_ROW,
            width=EARNINGS_CHART_WIDTH * 0.6 * max(amount, 0) / top,
            height=EARNINGS_WORK_ROW * 0.7,
        )
        for position, (label, amount) in enumerate(totals)
    )


def earnings_charts(
    points: Sequence[tuple[str, str, str, int]], format_amount: Callable[[Money], str]
) -> list[EarningsChart]:
    """Charts from (month YYYY-MM, work label, currency, amount) points: one per currency.

    The months are the last twelve that earned anything; works are ranked by what they earned.
    """
    charts = []
    for currency in sorted({currency for _m, _w, currency, _a in points}):
        months: dict[str, int] = {}
        works: dict[str, int] = {}
        for month, work, point_currency, amount in points:
            if point_currency == currency:
                months[month] = months.get(month, 0) + amount
                works[work] = works.get(work, 0) + amount
        recent = sorted(months.items())[-EARNINGS_MONTHS:]
        ranked = sorted(works.items(), key=lambda item: (-item[1], item[0]))[:10]
        by_month = _column_bars(recent, currency, format_amount)
        if by_month:
            charts.append(
                EarningsChart(currency, by_month, _row_bars(ranked, currency, format_amount))
            )
    return charts


@dataclass(frozen=True, slots=True)
class CaseMonthBars:
    """One month of the cases chart: its opened and resolved bars side by side."""

    month: str
    opened: int
    resolved: int
    x: float
    bar_width: float
    opened_height: float
    resolved_height: float


CASES_CHART_WIDTH: Final = 600.0
CASES_CHART_HEIGHT: Final = 140.0


def cases_chart(months: Sequence[tuple[str, int, int]]) -> tuple[CaseMonthBars, ...]:
    """Paired bars from (month, opened, resolved), scaled to the busiest month; none when empty."""
    top = max((max(opened, resolved) for _month, opened, resolved in months), default=0)
    if top <= 0:
        return ()
    slot = CASES_CHART_WIDTH / len(months)
    bar_width = min(slot * 0.35, 24.0)
    return tuple(
        CaseMonthBars(
            month=month,
            opened=opened,
            resolved=resolved,
            x=position * slot + slot / 2 - bar_width,
            bar_width=bar_width,
            opened_height=CASES_CHART_HEIGHT * opened / top,
            resolved_height=CASES_CHART_HEIGHT * resolved / top,
        )
        for position, (month, opened, resolved) in enumerate(months)
    )
