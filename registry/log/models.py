"""Attestation-log tables; rows are only ever inserted, never updated or deleted (but log_state).

``log_state`` is one row whose ``tree_size`` is both the committed size of the tree and
the append lock: an appender selects it ``FOR UPDATE`` (PostgreSQL serialises on the row
lock; SQLite serialises writers itself). ``log_nodes`` holds the hash of every complete
subtree of level >= 1 (level 0 are the leaf hashes in ``log_leaves``), so any proof or root
needs O(log n) point lookups.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, LargeBinary, String, text
from sqlmodel import Field, SQLModel

# SQLite makes only an INTEGER PRIMARY KEY the rowid, which keeps leaves clustered by index.
LogIndex = BigInteger().with_variant(Integer(), "sqlite")

LOG_STATE_ID = 1


class LogLeaf(SQLModel, table=True):
    """One appended leaf: its bytes (canonical JSON of an event) and its leaf hash."""

    __tablename__ = "log_leaves"

    leaf_index: int = Field(sa_column=Column(LogIndex, primary_key=True, autoincrement=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class LogNode(SQLModel, table=True):
    """Hash of the complete subtree of 2**level leaves starting at leaf node_index * 2**level."""

    __tablename__ = "log_nodes"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    node_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class LogTreeHead(SQLModel, table=True):
    """Every tree head the log ever signed."""

    __tablename__ = "log_tree_heads"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False))
    key_id: str = Field(sa_column=Column(String(64), nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary(64), nullable=False))


class LogState(SQLModel, table=True):
    """The single row holding the tree size; locked by every append."""

    __tablename__ = "log_state"

    id: int = Field(default=LOG_STATE_ID, primary_key=True)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))


class LogSubmission(SQLModel, table=True):
    """A leaf waiting for the sequencer, then the index it was given (set once, never again).

    A submission commits with its caller's transaction; the sequencer appends it and sets
    `leaf_index` in the transaction that appends it, so a leaf is appended once or not at all.
    """

    __tablename__ = "log_submissions"
    __table_args__ = (
        Index(
            "ix_log_submissions_waiting",
            "id",
            postgresql_where=text("leaf_index IS NULL"),
            sqlite_where=text("leaf_index IS NULL"),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(LogIndex, primary_key=True, autoincrement=True)
    )
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    leaf_index: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    submitted_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
