"""The seen-URL benchmark de-duplicates what it claims to, on real PostgreSQL partitions."""

from __future__ import annotations

import pytest

from bench.scale import seen_url_figures
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.postgres


def test_the_seen_url_figures_count_every_url_once(postgres: PostgresCluster) -> None:
    figures = seen_url_figures(postgres.url(), urls=3_000, sample=400)
    # The URLs added, plus the single-row baseline, plus the batched sample at the same size.
    assert figures["rows_in_table"] == 3_000 + 2 * 400
    assert figures["partitions"] == 16
    assert figures["confirmed_lookups_wrongly_new"] == 0
    assert 0.0 <= figures["bloom_false_positive_rate_measured"] < 0.05
    assert figures["batched_inserts_per_s"] > 0
    assert figures["single_row_inserts_per_s_at_size"] > 0
