"""The attestation-log benchmarks check what they time and report figures with units."""

from __future__ import annotations

from bench.log import append_leaves_per_s, inclusion_proofs_per_s, verify_seconds


def test_appends_report_leaves_per_second() -> None:
    figures = append_leaves_per_s(leaves=50, batch=20)
    assert figures["append_leaves_per_s"] > 0
    assert figures["append_batch_size"] == 20


def test_proofs_are_verified_and_reported() -> None:
    figures = inclusion_proofs_per_s(leaves=40, proofs=10)
    assert figures["inclusion_proofs_per_s"] > 0
    assert figures["inclusion_tree_size"] == 40


def test_a_full_audit_is_timed() -> None:
    figures = verify_seconds(leaves=30)
    assert figures["verify_seconds"] > 0
    assert figures["verify_leaves"] == 30
