"""No two crawlers fetch one host at once, nor sooner than its delay: hosts are leased whole.

A crawl job's frontier lives in the database (`crawl_frontier_hosts`, `crawl_frontier_urls`,
`crawl_frontier_images`), so any number of crawler processes can work one job. A crawler takes
pages only from hosts whose lease it holds; on PostgreSQL it claims free hosts with `FOR UPDATE
SKIP LOCKED`, so claimers never wait on each other, and on SQLite the one writer at a time makes
it a single claimer. A host hands out a page only once its `next_fetch_at` has come and fewer
than the per-host limit are in flight; each hand-out and each finished page push `next_fetch_at`
one delay ahead, so the delay holds across a change of lease holder. Leases are renewed at every
claim and expire after `lease_s`: a killed crawler's hosts (and the pages it had in flight) are
taken over by the others. A URL is queued once per job, by 16 bytes of its SHA-256, in batched
multi-row inserts that skip what is there (on PostgreSQL into 16 hash partitions by that key).
Each crawler keeps a Bloom filter of the hashes it queued: a URL the filter has never seen is
sent straight to the insert, and one it has is first looked up (in one query for the page), since
a false positive taken on trust would skip a page nobody fetched.

Pages and robots.txt of a leased host are fetched by its holder only. An image on a host that
another crawler holds is fetched by the crawler that found it, paced by that crawler alone.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, Table, case, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from registry.models import utcnow
from registry.monitoring.models import FrontierHost, FrontierImage, FrontierUrl
from similarity.crawl.bloom import BloomFilter
from similarity.crawl.frontier import FrontierEntry
from similarity.crawl.urls import parse_web_url

HOSTS = cast(Table, FrontierHost.__table__)  # type: ignore[attr-defined]
URLS = cast(Table, FrontierUrl.__table__)  # type: ignore[attr-defined]
IMAGES = cast(Table, FrontierImage.__table__)  # type: ignore[attr-defined]

DEFAULT_LEASE_S: Final = 60.0
DEFAULT_HOSTS: Final = 64
# How often a crawler with nothing to fetch looks again for hosts freed or due elsewhere.
POLL_S: Final = 0.1
_INSERT_BATCH: Final = 500
# The Bloom filter's room before it grows; 1% of repeated links then cost a needless look-up.
SEEN_FILTER_CAPACITY: Final = 1_000_000
SEEN_FILTER_FALSE_POSITIVE_RATE: Final = 0.01

PENDING: Final = "pending"
LEASED: Final = "leased"
DONE: Final = "done"


def url_hash(url: str) -> bytes:
    """The 16-byte key a URL is de-duplicated by."""
    return hashlib.sha256(url.encode()).digest()[:16]


def claimer_name() -> str:
    """A name no other crawler process will ever use: host, process id and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class SharedFrontier:
    """One crawler's handle on a job's frontier in the database (a `FrontierStore`)."""

    def __init__(
        self,
        engine: Engine,
        job_id: int,
        *,
        max_pages: int,
        delay_for: Callable[[str], float],
        per_host_concurrency: int = 1,
        max_hosts: int = DEFAULT_HOSTS,
        lease_s: float = DEFAULT_LEASE_S,
        claimer: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        queued: BloomFilter | None = None,
    ) -> None:
        self._engine = engine
        self._job_id = job_id
        self._max_pages = max_pages
        self._delay_for = delay_for
        self._per_host = per_host_concurrency
        self._max_hosts = max_hosts
        self._lease = timedelta(seconds=lease_s)
        self.claimer = claimer or claimer_name()
        self._clock = clock
        # The URLs this crawler queued: one it never queued needs no look-up before its insert.
        if queued is None:
            queued = BloomFilter(SEEN_FILTER_CAPACITY, SEEN_FILTER_FALSE_POSITIVE_RATE)
        self._queued = queued
        self._leased_at_depth: dict[str, int] = {}

    # Both statements take their rows as parameters: SQLAlchemy sends them as multi-row VALUES
    # ("insertmanyvalues") from one cached compilation, where rows inlined into the statement
    # cost a fresh compilation of every row's parameters for every batch.
    def _insert(self, connection: Connection, table: Table) -> Any:
        """An INSERT that skips rows already there."""
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def _insert_or_nearer(self, connection: Connection) -> Any:
        """Insert URLs; one already waiting keeps the least depth it was found at.

        Crawlers sharing a frontier do not crawl breadth-first as one, so a page may first be
        found along a longer path; its depth must still be its distance from the seeds, or the
        depth limit would cut off pages a single crawler reaches.
        """
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(URLS)
        # A page already done at a greater depth is queued again, to follow its links further.
        return statement.on_conflict_do_update(
            index_elements=[URLS.c.job_id, URLS.c.url_hash],
            set_={
                "depth": statement.excluded.depth,
                "state": case((URLS.c.state == DONE, PENDING), else_=URLS.c.state),
            },
            where=URLS.c.depth > statement.excluded.depth,
        ).returning(URLS.c.id)

    def add(self, entries: Sequence[FrontierEntry]) -> int:
        """Queue entries whose URL this job never queued (or bring a waiting one nearer the
        seeds); returns how many rows that inserted or moved."""
        nearest: dict[bytes, FrontierEntry] = {}
        for entry in entries:
            key = url_hash(entry.url)
            if key not in nearest or entry.depth < nearest[key].depth:
                nearest[key] = entry
        if not nearest:
            return 0
        with self._engine.begin() as connection:
            # The filter's "seen" may be false: only the table can say a URL needs no insert.
            known = self._queued_depths(connection, [key for key in nearest if key in self._queued])
            fresh = {
                key: entry
                for key, entry in nearest.items()
                if key not in known or entry.depth < known[key]
            }
            added = self._insert_urls(connection, fresh) if fresh else 0
        for key in fresh:
            self._queued.add(key)
        return added

    def _queued_depths(self, connection: Connection, keys: Sequence[bytes]) -> dict[bytes, int]:
        """The depth each of these URL hashes is queued at in this job, for those it has."""
        depths: dict[bytes, int] = {}
        for start in range(0, len(keys), _INSERT_BATCH):
            rows = connection.execute(
                select(URLS.c.url_hash, URLS.c.depth).where(
                    URLS.c.job_id == self._job_id,
                    URLS.c.url_hash.in_(keys[start : start + _INSERT_BATCH]),
                )
            )
            depths.update((bytes(key), int(depth)) for key, depth in rows)
        return depths

    def _insert_urls(self, connection: Connection, fresh: dict[bytes, FrontierEntry]) -> int:
        now = self._clock()
        rows = [
            {
                "job_id": self._job_id,
                "url_hash": key,
                "url": entry.url,
                "host": parse_web_url(entry.url).host,
                "depth": entry.depth,
                "state": PENDING,
            }
            for key, entry in fresh.items()
        ]
        hosts = sorted({str(row["host"]) for row in rows})
        connection.execute(
            self._insert(connection, HOSTS),
            [{"job_id": self._job_id, "host": h, "next_fetch_at": now} for h in hosts],
        )
        added = 0
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            added += len(connection.execute(self._insert_or_nearer(connection), batch).all())
        return added

    def lease(self, limit: int) -> list[FrontierEntry]:
        """Renew this crawler's hosts, claim free ones, and take due pages from them."""
        if limit <= 0:
            return []
        now = self._clock()
        with self._engine.begin() as connection:
            self._renew(connection, now)
            self._claim(connection, now)
            room = min(limit, self._max_pages - self._started(connection))
            if room <= 0:
                return []
            return self._take_due(connection, now, room)

    def _renew(self, connection: Connection, now: datetime) -> None:
        connection.execute(
            update(HOSTS)
            .where(HOSTS.c.job_id == self._job_id, HOSTS.c.lease_owner == self.claimer)
            .values(lease_expires_at=now + self._lease)
        )

    def _held(self, connection: Connection) -> list[str]:
        return list(
            connection.execute(
                select(HOSTS.c.host).where(
                    HOSTS.c.job_id == self._job_id, HOSTS.c.lease_owner == self.claimer
                )
            ).scalars()
        )

    def _claim(self, connection: Connection, now: datetime) -> None:
        """Claim free or expired hosts with pages left, up to `max_hosts` held."""
        held = self._held(connection)
        wanted = self._max_hosts - len(held)
        if wanted <= 0:
            return
        unfinished = exists().where(
            URLS.c.job_id == HOSTS.c.job_id,
            URLS.c.host == HOSTS.c.host,
            URLS.c.state.in_((PENDING, LEASED)),
        )
        free = or_(HOSTS.c.lease_owner.is_(None), HOSTS.c.lease_expires_at < now)
        claimable = connection.execute(
            select(HOSTS.c.host)
            .where(HOSTS.c.job_id == self._job_id, free, unfinished)
            .order_by(HOSTS.c.next_fetch_at)
            .limit(wanted)
            .with_for_update(skip_locked=True)
        ).scalars()
        hosts = list(claimable)
        if not hosts:
            return
        connection.execute(
            update(HOSTS)
            .where(HOSTS.c.job_id == self._job_id, HOSTS.c.host.in_(hosts))
            .values(lease_owner=self.claimer, lease_expires_at=now + self._lease)
        )
        # Pages the previous holder had in flight died with it: fetch them again.
        connection.execute(
            update(URLS)
            .where(URLS.c.job_id == self._job_id, URLS.c.host.in_(hosts), URLS.c.state == LEASED)
            .values(state=PENDING)
        )

    def _started(self, connection: Connection) -> int:
        return int(
            connection.execute(
                select(func.count())
                .select_from(URLS)
                .where(URLS.c.job_id == self._job_id, URLS.c.state.in_((LEASED, DONE)))
            ).scalar_one()
        )

    def _take_due(self, connection: Connection, now: datetime, room: int) -> list[FrontierEntry]:
        due = connection.execute(
            select(HOSTS.c.host).where(
                HOSTS.c.job_id == self._job_id,
                HOSTS.c.lease_owner == self.claimer,
                HOSTS.c.next_fetch_at <= now,
            )
        ).scalars()
        taken: list[FrontierEntry] = []
        for host in due:
            if len(taken) >= room:
                break
            in_flight = connection.execute(
                select(func.count())
                .select_from(URLS)
                .where(URLS.c.job_id == self._job_id, URLS.c.host == host, URLS.c.state == LEASED)
            ).scalar_one()
            if in_flight >= self._per_host:
                continue
            row = connection.execute(
                select(URLS.c.id, URLS.c.url, URLS.c.depth)
                .where(URLS.c.job_id == self._job_id, URLS.c.host == host, URLS.c.state == PENDING)
                .order_by(URLS.c.id)
                .limit(1)
            ).one_or_none()
            if row is None:
                # Nothing left to hand out here: let the host go (its next_fetch_at stays).
                if not in_flight:
                    self._release(connection, [host])
                continue
            connection.execute(update(URLS).where(URLS.c.id == row.id).values(state=LEASED))
            self._leased_at_depth[row.url] = row.depth
            self._push_next_fetch(connection, host, now)
            taken.append(FrontierEntry(url=row.url, depth=row.depth))
        return taken

    def _push_next_fetch(self, connection: Connection, host: str, now: datetime) -> None:
        later = now + timedelta(seconds=self._delay_for(host))
        connection.execute(
            update(HOSTS)
            .where(
                HOSTS.c.job_id == self._job_id,
                HOSTS.c.host == host,
                HOSTS.c.next_fetch_at < later,
            )
            .values(next_fetch_at=later)
        )

    def _release(self, connection: Connection, hosts: list[str]) -> None:
        connection.execute(
            update(HOSTS)
            .where(
                HOSTS.c.job_id == self._job_id,
                HOSTS.c.host.in_(hosts),
                HOSTS.c.lease_owner == self.claimer,
            )
            .values(lease_owner=None, lease_expires_at=None)
        )

    def mark_done(self, url: str) -> None:
        """Record the page processed; its host's next fetch waits a delay from now.

        The page's images on its host were fetched before this call, so counting the delay
        from here keeps the next holder of the host behind every fetch of this one.
        """
        host = parse_web_url(url).host
        # Found nearer the seeds while in flight: its links were followed from too far out.
        depth = self._leased_at_depth.pop(url, 0)
        with self._engine.begin() as connection:
            connection.execute(
                update(URLS)
                .where(URLS.c.job_id == self._job_id, URLS.c.url_hash == url_hash(url))
                .values(state=case((URLS.c.depth < depth, PENDING), else_=DONE))
            )
            self._push_next_fetch(connection, host, self._clock())

    def release_leases(self) -> int:
        """Nothing to release at start: another crawler's leases are its own until they expire."""
        return 0

    def count(self, state: str) -> int:
        """How many of the job's pages are in `state` ('pending', 'leased' or 'done')."""
        with self._engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(URLS)
                    .where(URLS.c.job_id == self._job_id, URLS.c.state == state)
                ).scalar_one()
            )

    def remember_image(self, url: str) -> None:
        """Record that the image at `url` was reported by this job."""
        with self._engine.begin() as connection:
            connection.execute(
                self._insert(connection, IMAGES),
                [{"job_id": self._job_id, "url_hash": url_hash(url)}],
            )

    def knows_image(self, url: str) -> bool:
        """Whether any crawler of this job already reported the image at `url`."""
        with self._engine.connect() as connection:
            found = connection.execute(
                select(IMAGES.c.job_id).where(
                    IMAGES.c.job_id == self._job_id, IMAGES.c.url_hash == url_hash(url)
                )
            ).first()
        return found is not None

    def next_due(self) -> float | None:
        """None once no page is pending or in flight anywhere (or the budget is spent)."""
        now = self._clock()
        with self._engine.connect() as connection:
            states: dict[str, int] = dict(
                connection.execute(
                    select(URLS.c.state, func.count())
                    .where(URLS.c.job_id == self._job_id)
                    .group_by(URLS.c.state)
                ).all()
            )
            if states.get(DONE, 0) >= self._max_pages:
                return None
            if not states.get(PENDING, 0) and not states.get(LEASED, 0):
                return None
            soonest = connection.execute(
                select(func.min(HOSTS.c.next_fetch_at)).where(
                    HOSTS.c.job_id == self._job_id, HOSTS.c.lease_owner == self.claimer
                )
            ).scalar_one_or_none()
        if soonest is None:
            return POLL_S
        wait: float = (soonest - now).total_seconds()
        return min(POLL_S, max(0.0, wait))

    def close(self) -> None:
        """Give back this crawler's hosts, and its pages in flight, for others to take now."""
        with self._engine.begin() as connection:
            hosts = self._held(connection)
            if hosts:
                connection.execute(
                    update(URLS)
                    .where(
                        URLS.c.job_id == self._job_id,
                        URLS.c.host.in_(hosts),
                        URLS.c.state == LEASED,
                    )
                    .values(state=PENDING)
                )
                self._release(connection, hosts)


def job_frontier_pages(engine: Engine, job_id: int) -> dict[str, int]:
    """How many of a job's pages are pending, leased and done."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(URLS.c.state, func.count()).where(URLS.c.job_id == job_id).group_by(URLS.c.state)
        ).all()
    counts = {PENDING: 0, LEASED: 0, DONE: 0}
    counts.update({state: int(n) for state, n in rows})
    return counts
