"""Server-rendered pages."""

from frontend.pages.works import (
    EXPANDED_SUBTREE_MAX,
    ROYALTY_CHART_HEIGHT,
    growth_chart,
    perfect_subtrees,
    render_error,
    router,
    royalty_chart,
    score_bar_percent,
    share_slices,
    tree_picture,
    validation_message,
)

__all__ = [
    "EXPANDED_SUBTREE_MAX",
    "ROYALTY_CHART_HEIGHT",
    "growth_chart",
    "perfect_subtrees",
    "render_error",
    "router",
    "royalty_chart",
    "score_bar_percent",
    "share_slices",
    "tree_picture",
    "validation_message",
]
