"""The persisted attestation log: leaves are appended, never changed; it never commits.

The caller's transaction holds the append, so a registration's own rows and its log leaf
commit or roll back together. An append locks the one ``log_state`` row, inserts the
leaves and every complete subtree they finish in two bulk statements, then moves the
size. ``verify_log`` recomputes everything from the leaf bytes and reports the first
stored leaf, node or signed head that disagrees.
"""

import functools
import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Connection, Select, Table, TextClause, insert, select, text, update
from sqlmodel import Session

from registry.log.errors import (
    LeafNotFoundError,
    LogCorruptionError,
    SignerMissingError,
    TreeSizeError,
)
from registry.log.events import LogEvent
from registry.log.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Subtree,
    fold_subtrees,
    leaf_hash,
    range_subtrees,
)
from registry.log.merkle import consistency_proof as merkle_consistency_proof
from registry.log.merkle import inclusion_proof as merkle_inclusion_proof
from registry.log.merkle import tree_root as merkle_tree_root
from registry.log.models import LOG_STATE_ID, LogLeaf, LogNode, LogState, LogTreeHead
from registry.log.signing import LogPublicKey, SignedTreeHead, Signer, now_ms, sign_tree_head
from registry.messages import N_
from registry.partitions import RangePartitions

LEAVES = cast(Table, LogLeaf.__table__)  # type: ignore[attr-defined]
NODES = cast(Table, LogNode.__table__)  # type: ignore[attr-defined]
HEADS = cast(Table, LogTreeHead.__table__)  # type: ignore[attr-defined]
STATE = cast(Table, LogState.__table__)  # type: ignore[attr-defined]
# On PostgreSQL, 2**20 leaves a partition (migration 0026), made ahead by the appender.
LEAF_PARTITIONS = RangePartitions(LEAVES.name, "leaf_index")

# Below SQLite's and PostgreSQL's bound-parameter limits with room to spare.
_LOOKUP_CHUNK = 200
_STREAM_ROWS = 20_000
UNTYPED_EVENT = "raw"
_Key = TypeVar("_Key")
_Answer = TypeVar("_Answer")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A stored leaf."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    event_type: str
    created_at: datetime


class AttestationLog:
    """The log inside one database session; a NodeSource over its stored subtrees."""

    def __init__(
        self,
        session: Session,
        signer: Signer | None = None,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._session = session
        self._signer = signer
        self._clock = clock

    @property
    def _connection(self) -> Connection:
        return self._session.connection()

    def tree_size(self) -> int:
        """Number of leaves visible to this session."""
        size = self._connection.execute(
            select(STATE.c.tree_size).where(STATE.c.id == LOG_STATE_ID)
        ).scalar_one_or_none()
        return int(size or 0)

    def _claim(self, count: int) -> int:
        """Move the tree size on by `count` leaves; returns the size before, the first new index.

        One statement reads and moves it: the update locks the state row, so concurrent
        PostgreSQL appenders queue here; SQLite allows one writer at a time, and the leaf primary
        key refuses a lost race.
        """
        grown = self._connection.execute(
            update(STATE)
            .where(STATE.c.id == LOG_STATE_ID)
            .values(tree_size=STATE.c.tree_size + count)
            .returning(STATE.c.tree_size)
        ).scalar_one_or_none()
        if grown is None:
            self._connection.execute(insert(STATE).values(id=LOG_STATE_ID, tree_size=count))
            return 0
        return int(grown) - count

    def append(
        self, leaves: Sequence[bytes], event_types: Sequence[str] | None = None
    ) -> list[int]:
        """Append leaves in order under one lock; returns their indexes.

        Without ``event_types``, each leaf's type is read from its JSON ``type`` field.
        """
        if not leaves:
            return []
        if event_types is None:
            event_types = [_event_type_of(leaf) for leaf in leaves]
        elif len(event_types) != len(leaves):
            raise ValueError("one event type per leaf is required")
        old_size = self._claim(len(leaves))
        new_size = old_size + len(leaves)
        hashes = [leaf_hash(leaf) for leaf in leaves]
        created_at = datetime.now(UTC)
        LEAF_PARTITIONS.ensure(self._connection, old_size, new_size)
        self._connection.execute(
            insert(LEAVES),
            [
                {
                    "leaf_index": old_size + offset,
                    "leaf": leaf,
                    "leaf_hash": digest,
                    "event_type": event_type,
                    "created_at": created_at,
                }
                for offset, (leaf, digest, event_type) in enumerate(
                    zip(leaves, hashes, event_types, strict=True)
                )
            ],
        )
        nodes = self._completed_nodes(old_size, hashes)
        if nodes:
            self._connection.execute(
                insert(NODES),
                [{"level": level, "node_index": index, "hash": h} for level, index, h in nodes],
            )
        return list(range(old_size, new_size))

    def append_events(self, events: Sequence[LogEvent]) -> list[int]:
        """Append events as canonical JSON leaves; returns their indexes."""
        return self.append(
            [event.to_leaf() for event in events], [event.event_type for event in events]
        )

    def _completed_nodes(
        self, old_size: int, new_hashes: Sequence[bytes]
    ) -> list[tuple[int, int, bytes]]:
        """Every subtree of level >= 1 that the new leaves complete, bottom level first."""
        new_size = old_size + len(new_hashes)
        frontier = self.subtree_hashes(
            [
                Subtree(level, (old_size >> level) - 1)
                for level in range(old_size.bit_length())
                if old_size >> level & 1
            ]
        )
        nodes: list[tuple[int, int, bytes]] = []
        below: Sequence[bytes] = new_hashes
        below_start = old_size
        level = 0
        while True:
            level += 1
            first, end = old_size >> level, new_size >> level
            if end <= first:
                return nodes
            row: list[bytes] = []
            for index in range(first, end):
                left_index = 2 * index
                left = (
                    below[left_index - below_start]
                    if left_index >= below_start
                    else frontier[Subtree(level - 1, left_index)]
                )
                digest = hashlib.sha256(
                    b"\x01" + left + below[left_index + 1 - below_start]
                ).digest()
                row.append(digest)
                nodes.append((level, index, digest))
            below, below_start = row, first

    def subtree_hashes(self, subtrees: Collection[Subtree]) -> dict[Subtree, bytes]:
        """Stored hash of each complete subtree; level 0 are leaf hashes."""
        wanted = list(set(subtrees))
        found: dict[Subtree, bytes] = {}
        for chunk in _chunks(wanted):
            leaves = [s.index for s in chunk if s.level == 0]
            nodes = [s for s in chunk if s.level > 0]
            parameters = {f"x{n}": index for n, index in enumerate(leaves)}
            for n, node in enumerate(nodes):
                parameters[f"l{n}"] = node.level
                parameters[f"i{n}"] = node.index
            connection = self._connection
            statement = _subtree_lookup(
                len(leaves), len(nodes), _PLACEHOLDERS.get(connection.dialect.paramstyle)
            )
            rows = (
                connection.exec_driver_sql(statement, parameters)
                if isinstance(statement, str)
                else connection.execute(statement, parameters)
            )
            found.update((Subtree(level, index), digest) for level, index, digest in rows.all())
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - set(found))
            raise LogCorruptionError(
                N_("stored log is missing subtrees %(subtrees)s"), subtrees=str(missing[:5])
            )
        return found

    def root_hash(self, tree_size: int | None = None) -> bytes:
        """Root of the tree of ``tree_size`` leaves (default: the current size)."""
        return self._within_log(tree_size, lambda size: merkle_tree_root(size, self))

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
        return self._within_log(tree_size, lambda size: merkle_inclusion_proof(index, size, self))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the tree of ``new_size`` extends the tree of ``old_size``."""
        return self._within_log(
            new_size, lambda size: merkle_consistency_proof(old_size, size, self)
        )

    def _within_log(self, tree_size: int | None, answer: Callable[[int], _Answer]) -> _Answer:
        """``answer(tree_size)``, or a TreeSizeError if the log is smaller than ``tree_size``."""
        if tree_size is None:
            return answer(self.tree_size())
        if tree_size < 0:
            raise TreeSizeError(N_("tree size %(size)s is negative"), size=tree_size)
        try:
            # Saves a size query per proof: the subtrees a size needs exist iff the log is
            # at least that large, so a missing one is either a size error or damage.
            return answer(tree_size)
        except LogCorruptionError:
            current = self.tree_size()
            if tree_size > current:
                raise TreeSizeError(
                    N_("tree size %(size)s is outside the log's 0..%(current)s"),
                    size=tree_size,
                    current=current,
                ) from None
            raise

    def leaf(self, index: int) -> LogEntry:
        """The stored leaf at ``index``."""
        row = self._connection.execute(
            select(
                LEAVES.c.leaf_index,
                LEAVES.c.leaf,
                LEAVES.c.leaf_hash,
                LEAVES.c.event_type,
                LEAVES.c.created_at,
            ).where(LEAVES.c.leaf_index == index)
        ).one_or_none()
        if row is None:
            raise LeafNotFoundError(N_("no leaf at index %(index)s"), index=index)
        return LogEntry(*row)

    def public_key(self) -> LogPublicKey:
        """The key that verifies this log's heads."""
        if self._signer is None:
            raise SignerMissingError(N_("this log was opened without a signing key"))
        return self._signer.public_key

    def sign_head(self) -> SignedTreeHead:
        """Sign and store a head for the current tree."""
        if self._signer is None:
            raise SignerMissingError(N_("this log was opened without a signing key"))
        size = self.tree_size()
        head = sign_tree_head(self._signer, size, self.root_hash(size), self._clock())
        self._connection.execute(
            insert(HEADS).values(
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                timestamp=head.timestamp,
                key_id=head.key_id,
                signature=head.signature,
            )
        )
        return head

    def latest_head(self) -> SignedTreeHead | None:
        """The stored head of the largest tree, the most recently signed among equals."""
        row = self._connection.execute(
            select(*_HEAD_COLUMNS).order_by(HEADS.c.tree_size.desc(), HEADS.c.id.desc()).limit(1)
        ).one_or_none()
        return None if row is None else SignedTreeHead(*row)

    def heads(self) -> list[SignedTreeHead]:
        """Every stored head, oldest first."""
        rows = self._connection.execute(select(*_HEAD_COLUMNS).order_by(HEADS.c.id))
        return [SignedTreeHead(*row) for row in rows]


# Placeholder spelling of the drivers whose named style is used directly, skipping
# SQLAlchemy's per-call statement processing on the hottest query (a third of a proof).
_PLACEHOLDERS = {"named": ":{}", "pyformat": "%({})s"}


@functools.cache
def _subtree_lookup(leaf_count: int, node_count: int, placeholder: str | None) -> str | TextClause:
    """One statement per shape, so the database and SQLAlchemy reuse its plan.

    Nodes are matched by an OR of primary-key equalities: both databases answer it with
    one index seek per term, whereas SQLite answers a row-value IN with a full scan. With
    no known ``placeholder`` spelling it is a SQLAlchemy text clause.
    """
    mark = placeholder or ":{}"
    parts = []
    if leaf_count:
        placeholders = ", ".join(mark.format(f"x{n}") for n in range(leaf_count))
        parts.append(
            f"SELECT 0, leaf_index, leaf_hash FROM {LEAVES.name} "  # noqa: S608 - fixed names
            f"WHERE leaf_index IN ({placeholders})"
        )
    if node_count:
        terms = " OR ".join(
            f"(level = {mark.format(f'l{n}')} AND node_index = {mark.format(f'i{n}')})"
            for n in range(node_count)
        )
        parts.append(f"SELECT level, node_index, hash FROM {NODES.name} WHERE {terms}")  # noqa: S608
    statement = " UNION ALL ".join(parts)
    return statement if placeholder else text(statement)


_HEAD_COLUMNS = (
    HEADS.c.tree_size,
    HEADS.c.root_hash,
    HEADS.c.timestamp,
    HEADS.c.key_id,
    HEADS.c.signature,
)


def _event_type_of(leaf: bytes) -> str:
    try:
        document = json.loads(leaf)
    except ValueError:
        return UNTYPED_EVENT
    event_type = document.get("type") if isinstance(document, dict) else None
    return event_type if isinstance(event_type, str) else UNTYPED_EVENT


def _chunks(items: list[_Key]) -> Iterator[list[_Key]]:
    for start in range(0, len(items), _LOOKUP_CHUNK):
        yield items[start : start + _LOOKUP_CHUNK]


ProblemKind = Literal["state", "leaf", "node", "head"]


@dataclass(frozen=True, slots=True)
class LogProblem:
    """The first disagreement found: what kind of record, which one, and why."""

    kind: ProblemKind
    index: int
    detail: str


@dataclass(frozen=True, slots=True)
class LogVerification:
    """Outcome of a full audit of the stored log."""

    tree_size: int
    leaves_checked: int
    nodes_checked: int
    heads_checked: int
    problem: LogProblem | None

    @property
    def ok(self) -> bool:
        """Whether every record agreed."""
        return self.problem is None


class _Audit:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.tree_size = 0
        self.leaves = 0
        self.nodes = 0
        self.heads = 0
        self.levels: list[bytearray] = []

    def result(self, problem: LogProblem | None) -> LogVerification:
        return LogVerification(self.tree_size, self.leaves, self.nodes, self.heads, problem)

    def stream(self, statement: Select[Any]) -> Iterator[Any]:
        connection = self.connection.execution_options(yield_per=_STREAM_ROWS)
        yield from connection.execute(statement)

    def check_leaves(self) -> LogProblem | None:
        hashes = bytearray()
        statement = select(LEAVES.c.leaf_index, LEAVES.c.leaf, LEAVES.c.leaf_hash).order_by(
            LEAVES.c.leaf_index
        )
        sha256 = hashlib.sha256
        for index, leaf, stored in self.stream(statement):
            if index != self.leaves:
                return LogProblem("leaf", self.leaves, f"leaf {self.leaves} is missing")
            if index >= self.tree_size:
                return LogProblem("leaf", index, f"leaf {index} lies beyond the tree size")
            digest = sha256(b"\x00" + leaf).digest()
            if digest != stored:
                return LogProblem("leaf", index, f"leaf {index} does not match its leaf hash")
            hashes += digest
            self.leaves += 1
        if self.leaves != self.tree_size:
            return LogProblem("leaf", self.leaves, f"leaf {self.leaves} is missing")
        self.levels = [hashes]
        return None

    def compute_levels(self) -> None:
        sha256 = hashlib.sha256
        below = self.levels[0]
        while len(below) >= 2 * HASH_SIZE:
            view = memoryview(below)
            row = bytearray()
            for offset in range(0, len(below) - 2 * HASH_SIZE + 1, 2 * HASH_SIZE):
                row += sha256(b"\x01" + view[offset : offset + 2 * HASH_SIZE]).digest()
            self.levels.append(row)
            below = row

    def expected_node(self, level: int, index: int) -> bytes | None:
        if level >= len(self.levels):
            return None
        row = self.levels[level]
        offset = index * HASH_SIZE
        return bytes(row[offset : offset + HASH_SIZE]) if offset < len(row) else None

    def check_nodes(self) -> LogProblem | None:
        expected = (
            (level, index)
            for level in range(1, len(self.levels))
            for index in range(len(self.levels[level]) // HASH_SIZE)
        )
        statement = select(NODES.c.level, NODES.c.node_index, NODES.c.hash).order_by(
            NODES.c.level, NODES.c.node_index
        )
        for level, index, stored in self.stream(statement):
            want = next(expected, None)
            if want != (level, index):
                where = want if want is not None else (level, index)
                return LogProblem(
                    "node",
                    where[1],
                    f"node at level {where[0]} index {where[1]} is "
                    + ("missing" if want is not None and want < (level, index) else "unexpected"),
                )
            if stored != self.expected_node(level, index):
                return LogProblem(
                    "node", index, f"node at level {level} index {index} has a wrong hash"
                )
            self.nodes += 1
        leftover = next(expected, None)
        if leftover is not None:
            return LogProblem(
                "node", leftover[1], f"node at level {leftover[0]} index {leftover[1]} is missing"
            )
        return None

    def root(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        hashes = [self.expected_node(s.level, s.index) for s in range_subtrees(0, size)]
        return fold_subtrees([h for h in hashes if h is not None])

    def check_heads(self, public_key: LogPublicKey) -> LogProblem | None:
        rows = self.connection.execute(select(HEADS.c.id, *_HEAD_COLUMNS).order_by(HEADS.c.id))
        for head_id, *fields in rows:
            head = SignedTreeHead(*fields)
            if head.tree_size > self.tree_size:
                return LogProblem(
                    "head",
                    head_id,
                    f"head {head_id} claims {head.tree_size} leaves, "
                    f"the log holds {self.tree_size}",
                )
            if head.root_hash != self.root(head.tree_size):
                return LogProblem(
                    "head", head_id, f"head {head_id} root differs from the recomputed tree"
                )
            if not head.verify(public_key):
                return LogProblem(
                    "head",
                    head_id,
                    f"head {head_id} signature does not verify with key {public_key.key_id}",
                )
            self.heads += 1
        return None


def verify_log(session: Session, public_key: LogPublicKey) -> LogVerification:
    """Recompute every leaf hash, stored node and signed head; report the first disagreement."""
    audit = _Audit(session.connection())
    audit.tree_size = AttestationLog(session).tree_size()
    problem = audit.check_leaves()
    if problem is not None:
        return audit.result(problem)
    audit.compute_levels()
    problem = audit.check_nodes() or audit.check_heads(public_key)
    return audit.result(problem)
