"""The persisted log: appends, roots, proofs, heads, and audits that catch tampering."""

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from registry.log.errors import (
    LeafNotFoundError,
    LogCorruptionError,
    SignerMissingError,
    TreeSizeError,
)
from registry.log.events import RegistrationEvent, canonical_json
from registry.log.merkle import (
    MemoryNodeSource,
    Subtree,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from registry.log.signing import LogSigner
from registry.log.store import AttestationLog, verify_log


def leaves_for(start: int, count: int) -> list[bytes]:
    return [
        canonical_json({"type": "test", "version": 1, "n": i}) for i in range(start, start + count)
    ]


def filled(log: AttestationLog, batches: list[int]) -> list[bytes]:
    appended: list[bytes] = []
    for count in batches:
        start = log.tree_size()
        leaves = leaves_for(start, count)
        assert log.append(leaves) == list(range(start, start + count))
        appended += leaves
    return appended


def test_empty_log_has_size_zero_and_the_empty_root(log: AttestationLog) -> None:
    assert log.tree_size() == 0
    assert log.root_hash() == root([])
    assert log.latest_head() is None


def test_append_returns_consecutive_indexes(log: AttestationLog) -> None:
    assert log.append(leaves_for(0, 3)) == [0, 1, 2]
    assert log.append(leaves_for(3, 2)) == [3, 4]
    assert log.tree_size() == 5


def test_append_reads_and_moves_the_tree_size_in_one_statement(
    engine: Engine, log: AttestationLog
) -> None:
    log.append(leaves_for(0, 3))
    statements: list[str] = []

    def record(*arguments: object) -> None:
        statements.append(str(arguments[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert log.append(leaves_for(3, 2)) == [3, 4]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len([s for s in statements if "log_state" in s]) == 1
    assert log.tree_size() == 5


def test_append_of_nothing_changes_nothing(log: AttestationLog) -> None:
    assert log.append([]) == []
    assert log.tree_size() == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_root_after_any_batches_matches_the_tree_of_all_leaves(
    engine: Engine, signer: LogSigner, batches: list[int]
) -> None:
    with Session(engine) as session:
        log = AttestationLog(session, signer)
        appended = filled(log, batches)
        assert log.root_hash() == root([leaf_hash(leaf) for leaf in appended])
        session.rollback()


def test_root_of_every_earlier_size_is_answerable(log: AttestationLog) -> None:
    appended = filled(log, [5, 1, 9, 18])
    hashes = [leaf_hash(leaf) for leaf in appended]
    for size in range(len(appended) + 1):
        assert log.root_hash(size) == root(hashes[:size])


def test_root_of_a_size_beyond_the_log_is_refused(log: AttestationLog) -> None:
    filled(log, [3])
    with pytest.raises(TreeSizeError, match="outside the log"):
        log.root_hash(4)


def test_every_inclusion_proof_verifies_against_every_size(log: AttestationLog) -> None:
    appended = filled(log, [7, 3, 12, 1, 10])
    hashes = [leaf_hash(leaf) for leaf in appended]
    for size in range(1, len(appended) + 1):
        tree_hash = root(hashes[:size])
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert verify_inclusion(hashes[index], index, size, proof, tree_hash)


def test_every_consistency_proof_verifies(log: AttestationLog) -> None:
    appended = filled(log, [4, 13, 2, 14])
    hashes = [leaf_hash(leaf) for leaf in appended]
    for new in range(len(appended) + 1):
        for old in range(new + 1):
            proof = log.consistency_proof(old, new)
            assert verify_consistency(old, new, root(hashes[:old]), root(hashes[:new]), proof)


def test_leaf_returns_the_stored_bytes_and_event_type(log: AttestationLog) -> None:
    appended = filled(log, [4])
    entry = log.leaf(2)
    assert (entry.index, entry.leaf, entry.leaf_hash) == (2, appended[2], leaf_hash(appended[2]))
    assert entry.event_type == "test"


def test_leaf_that_is_not_json_is_stored_as_raw(log: AttestationLog) -> None:
    log.append([b"\xff not json"])
    assert log.leaf(0).event_type == "raw"


def test_missing_leaf_is_a_typed_error(log: AttestationLog) -> None:
    filled(log, [2])
    with pytest.raises(LeafNotFoundError, match="index 2"):
        log.leaf(2)


def test_signed_head_covers_the_current_tree(log: AttestationLog, signer: LogSigner) -> None:
    appended = filled(log, [6])
    head = log.sign_head()
    assert head.tree_size == 6
    assert head.root_hash == root([leaf_hash(leaf) for leaf in appended])
    assert head.timestamp == 1_700_000_000_000
    assert head.verify(signer.public_key)
    assert log.latest_head() == head


def test_latest_head_is_the_largest_tree(log: AttestationLog) -> None:
    filled(log, [2])
    log.sign_head()
    filled(log, [3])
    larger = log.sign_head()
    assert log.latest_head() == larger
    assert [h.tree_size for h in log.heads()] == [2, 5]


def test_signing_without_a_key_is_a_typed_error(session: Session) -> None:
    with pytest.raises(SignerMissingError):
        AttestationLog(session).sign_head()


def test_rolled_back_append_leaves_no_trace(engine: Engine, signer: LogSigner) -> None:
    with Session(engine) as session:
        log = AttestationLog(session, signer)
        filled(log, [3])
        session.commit()
        log.append(leaves_for(3, 5))
        session.rollback()
        assert log.tree_size() == 3
        assert verify_log(session, signer.public_key).ok


def test_append_does_not_commit(engine: Engine, signer: LogSigner) -> None:
    with Session(engine) as session:
        AttestationLog(session, signer).append(leaves_for(0, 2))
        AttestationLog(session, signer).sign_head()
    with Session(engine) as other:
        assert AttestationLog(other).tree_size() == 0


def test_committed_log_verifies(log: AttestationLog, session: Session, signer: LogSigner) -> None:
    filled(log, [5, 17, 1, 40])
    log.sign_head()
    filled(log, [9])
    log.sign_head()
    session.commit()
    result = verify_log(session, signer.public_key)
    assert result.ok
    assert (result.tree_size, result.leaves_checked, result.heads_checked) == (72, 72, 2)
    assert result.nodes_checked == sum(72 >> level for level in range(1, 8))


@pytest.fixture
def tampered(log: AttestationLog, session: Session) -> Callable[[str], None]:
    filled(log, [10, 7, 15])
    log.sign_head()
    filled(log, [3])
    log.sign_head()
    session.commit()

    def run(statement: str) -> None:
        session.execute(text(statement))
        session.commit()

    return run


def test_edited_leaf_bytes_are_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("UPDATE log_leaves SET leaf = X'7b7d' WHERE leaf_index = 13")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("leaf", 13)


def test_leaf_rewritten_with_a_matching_leaf_hash_is_reported_at_the_node(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    session.execute(
        text("UPDATE log_leaves SET leaf = :leaf, leaf_hash = :hash WHERE leaf_index = 13"),
        {"leaf": b"{}", "hash": leaf_hash(b"{}")},
    )
    session.commit()
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("node", 6)


def test_fully_rewritten_history_is_caught_by_the_signed_heads(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    # Rewrite a leaf and every stored node consistently: only the signatures remain.
    forged_leaf = b'{"forged":true}'
    session.execute(
        text("UPDATE log_leaves SET leaf = :leaf, leaf_hash = :hash WHERE leaf_index = 0"),
        {"leaf": forged_leaf, "hash": leaf_hash(forged_leaf)},
    )
    session.execute(text("DELETE FROM log_nodes"))
    session.commit()
    log = AttestationLog(session)
    hashes = [log.leaf(i).leaf_hash for i in range(log.tree_size())]
    source = MemoryNodeSource(hashes)
    for level in range(1, 6):
        for index in range(len(hashes) >> level):
            digest = source.subtree_hashes([Subtree(level, index)])[Subtree(level, index)]
            session.execute(
                text("INSERT INTO log_nodes (level, node_index, hash) VALUES (:l, :i, :h)"),
                {"l": level, "i": index, "h": digest},
            )
    session.commit()
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert problem.kind == "head"
    assert problem.index == 1


def test_edited_node_is_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 2 AND node_index = 3")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("node", 3)
    assert "level 2" in problem.detail


def test_deleted_node_is_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("DELETE FROM log_nodes WHERE level = 1 AND node_index = 4")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("node", 4)


def test_deleted_leaf_is_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("DELETE FROM log_leaves WHERE leaf_index = 20")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("leaf", 20)


def test_truncated_log_is_reported_against_its_heads(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("DELETE FROM log_leaves WHERE leaf_index >= 30")
    session.execute(text("UPDATE log_state SET tree_size = 30"))
    session.execute(text("DELETE FROM log_nodes WHERE (node_index + 1) << level > 30"))
    session.commit()
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert problem.kind == "head"
    assert problem.index == 1
    assert "claims 32 leaves" in problem.detail


def test_edited_head_root_is_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("UPDATE log_tree_heads SET root_hash = zeroblob(32) WHERE id = 2")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("head", 2)


def test_edited_head_signature_is_reported(
    tampered: Callable[[str], None], session: Session, signer: LogSigner
) -> None:
    tampered("UPDATE log_tree_heads SET signature = zeroblob(64) WHERE id = 1")
    problem = verify_log(session, signer.public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("head", 1)
    assert "signature" in problem.detail


def test_heads_checked_with_another_key_are_reported(
    tampered: Callable[[str], None], session: Session
) -> None:
    problem = verify_log(session, LogSigner.generate().public_key).problem
    assert problem is not None
    assert (problem.kind, problem.index) == ("head", 1)


def test_proof_for_a_size_beyond_the_log_is_refused(log: AttestationLog) -> None:
    filled(log, [5])
    with pytest.raises(TreeSizeError, match="outside the log"):
        log.inclusion_proof(1, 9)


def test_consistency_to_a_size_beyond_the_log_is_refused(log: AttestationLog) -> None:
    filled(log, [5])
    with pytest.raises(TreeSizeError, match="outside the log"):
        log.consistency_proof(2, 6)


def test_missing_stored_node_is_reported_as_damage(log: AttestationLog, session: Session) -> None:
    filled(log, [8])
    session.execute(text("DELETE FROM log_nodes WHERE level = 2 AND node_index = 1"))
    with pytest.raises(LogCorruptionError, match="missing"):
        log.inclusion_proof(0, 8)


def test_events_are_appended_with_their_type(log: AttestationLog) -> None:
    event = RegistrationEvent(
        work_id=1,
        owner_id=2,
        sha256="cd" * 32,
        fingerprints={"phash": "00"},
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert log.append_events([event]) == [0]
    assert (log.leaf(0).leaf, log.leaf(0).event_type) == (event.to_leaf(), "registration")
