"""Database engine and unit of work: services never commit, the wrapper around them does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import orjson
import psycopg
from sqlalchemy import JSON, Table, event, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from registry.partitions import remember_committed_partitions

# Connections an SQLite engine keeps open: about twice the requests served at once.
SQLITE_POOL_SIZE = 32


def json_column_text(value: object) -> str:
    """JSON column text, written by orjson (sales ingestion writes one document per line).

    What orjson refuses (an integer beyond 64 bits) is written by the standard library, as before.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_column_value(text: str | bytes) -> Any:
    """A JSON column's value; what orjson cannot read (NaN, once written) is read as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one table (every row with the same keys) in the session's transaction.

    PostgreSQL takes them as one `COPY`, which measured several times quicker than the
    executemany of single-row INSERTs every other database gets.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_positions = [
        position for position, name in enumerate(columns) if isinstance(table.c[name].type, JSON)
    ]
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in columns]
            # A JSON value goes as its text, which COPY reads as the column's type: no adapter
            # object per value. None is written as JSON null, as SQLAlchemy's JSON type writes it.
            for position in json_positions:
                values[position] = json_column_text(values[position])
            copy.write_row(values)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers.

    A read-only SQLite engine begins deferred transactions, so its readers never wait for the
    write lock that read-write transactions take at BEGIN. A PostgreSQL engine's connections
    remember the range partitions they saw committed (`registry.partitions`).
    """
    if url.startswith("sqlite"):
        # Every request may hold two connections at once (its own and the header's), so the
        # pool keeps enough open that busy moments do not reopen files and rerun the pragmas.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            json_serializer=json_column_text,
            json_deserializer=json_column_value,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if read_only:
                cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(connection: Any) -> None:
            # Take the write lock at BEGIN so two writers queue instead of failing on upgrade.
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        engine.dialect.supports_native_decimal = False
        return _disable_pysqlite_autobegin(engine)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        json_serializer=json_column_text,
        json_deserializer=json_column_value,
    )
    remember_committed_partitions(engine)
    return engine


def _disable_pysqlite_autobegin(engine: Engine) -> Engine:
    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    return engine


@contextmanager
def unit_of_work(sessions: Engine | Callable[[], Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises, then closed.

    The request (frontend/deps.py), each CLI command and each job opens one around the services
    it calls. `sessions` is an engine or a factory of read-write sessions (`Services.session`),
    never the read-only `read_session`: a unit of work writes, and on SQLite takes the write
    lock when its transaction begins.
    """
    session = (
        Session(sessions, expire_on_commit=False) if isinstance(sessions, Engine) else sessions()
    )
    with session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
