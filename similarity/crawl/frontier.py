"""Each URL enters the frontier once; a page leaves it only when fully processed.

A page is `pending`, then `leased` while a worker handles it, then `done`. A crawl that is
killed leaves leases behind; `release_leases()` on restart puts them back to pending, so the
crawl resumes where it stopped (pages in flight are fetched again: at-least-once). Image URLs
are remembered once reported, so a resumed crawl does not report them twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class FrontierEntry:
    """A page URL to crawl and its link distance from the seeds."""

    url: str
    depth: int


class FrontierStore(Protocol):
    """Persistence of the crawl frontier and of the image URLs already reported."""

    def add(self, entries: Sequence[FrontierEntry]) -> int:
        """Queue entries whose URL was never queued; returns how many were new."""
        ...

    def lease(self, limit: int) -> list[FrontierEntry]:
        """Take up to `limit` pending entries, oldest first, and mark them leased."""
        ...

    def mark_done(self, url: str) -> None:
        """Record that the page at `url` was processed (successfully or not)."""
        ...

    def release_leases(self) -> int:
        """Return leased entries to pending (after a crash); returns how many."""
        ...

    def count(self, state: str) -> int:
        """How many entries are in `state` ('pending', 'leased' or 'done')."""
        ...

    def remember_image(self, url: str) -> None:
        """Record that the image at `url` was reported."""
        ...

    def knows_image(self, url: str) -> bool:
        """Whether the image at `url` was already reported in this crawl."""
        ...

    def next_due(self) -> float | None:
        """Seconds to wait before `lease` may give more, or None when the frontier is spent.

        A frontier shared by several crawlers may have nothing to give this one now (its hosts
        wait out their delay, or are leased elsewhere) and more later.
        """
        ...

    def close(self) -> None:
        """Release the storage."""
        ...


class SqliteFrontierStore:
    """The frontier in a SQLite file `frontier.sqlite3` inside a directory the caller owns."""

    FILENAME = "frontier.sqlite3"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / self.FILENAME
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS page ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " url TEXT NOT NULL UNIQUE,"
            " depth INTEGER NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'pending'"
            " CHECK (state IN ('pending', 'leased', 'done')))"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS page_state ON page (state, seq)")
        self._db.execute("CREATE TABLE IF NOT EXISTS image (url TEXT PRIMARY KEY)")

    def add(self, entries: Sequence[FrontierEntry]) -> int:
        """Queue entries whose URL was never queued; returns how many were new."""
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO page (url, depth) VALUES (?, ?)",
                [(entry.url, entry.depth) for entry in entries],
            )
            return self._db.total_changes - before

    def lease(self, limit: int) -> list[FrontierEntry]:
        """Take up to `limit` pending entries, oldest first, and mark them leased."""
        if limit <= 0:
            return []
        with self._transaction():
            rows = self._db.execute(
                "SELECT seq, url, depth FROM page WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            self._db.executemany(
                "UPDATE page SET state = 'leased' WHERE seq = ?", [(row[0],) for row in rows]
            )
        return [FrontierEntry(url=row[1], depth=row[2]) for row in rows]

    def mark_done(self, url: str) -> None:
        """Record that the page at `url` was processed (successfully or not)."""
        self._db.execute("UPDATE page SET state = 'done' WHERE url = ?", (url,))

    def release_leases(self) -> int:
        """Return leased entries to pending (after a crash); returns how many."""
        return self._db.execute("UPDATE page SET state = 'pending' WHERE state = 'leased'").rowcount

    def count(self, state: str) -> int:
        """How many entries are in `state` ('pending', 'leased' or 'done')."""
        row = self._db.execute("SELECT COUNT(*) FROM page WHERE state = ?", (state,)).fetchone()
        return int(row[0])

    def remember_image(self, url: str) -> None:
        """Record that the image at `url` was reported."""
        self._db.execute("INSERT OR IGNORE INTO image (url) VALUES (?)", (url,))

    def knows_image(self, url: str) -> bool:
        """Whether the image at `url` was already reported in this crawl."""
        return self._db.execute("SELECT 1 FROM image WHERE url = ?", (url,)).fetchone() is not None

    def next_due(self) -> float | None:
        """None: one claimer holds everything, so what it did not lease does not exist."""
        return None

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
