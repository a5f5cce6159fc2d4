"""Exclusivity watched after a buyout: the buyer is told of every copy outside their own site.

Once a buyout is paid the work is the buyer's (alerts follow the work's owner) and the buyer's
verified domain is licensed by the buyout grant, so a sighting anywhere else raises an alert for
the buyer and one on their domain is skipped. What the watch adds is the looking: it re-crawls,
in the buyer's name, the pages where copies of the work were already seen (the seller's own
pages among them), so a use that outlives the sale is found.
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session, col, select

from registry.messages import N_
from registry.models import User, persisted_id
from registry.monitoring.models import Alert, CrawlWatch, ExclusivityWatch
from registry.notifications.service import notify

EXCLUSIVITY_KIND: Final = "monitoring.exclusivity_watch"
# Daily: a lingering use is found within a day without crawling anyone hard.
EXCLUSIVITY_INTERVAL_S: Final = 24 * 3600
MAX_EXCLUSIVITY_SEEDS: Final = 20
EXCLUSIVITY_MAX_PAGES: Final = 5


def earlier_pages(session: Session, work_id: int) -> list[str]:
    """The pages where copies of the work were seen, most recently seen first."""
    pages = session.exec(
        select(Alert.page_url)
        .where(Alert.work_id == work_id)
        .order_by(col(Alert.last_seen_at).desc())
    ).all()
    return list(dict.fromkeys(pages))[:MAX_EXCLUSIVITY_SEEDS]


def watch_exclusivity(
    session: Session, work_id: int, buyer: User, grant_id: int
) -> ExclusivityWatch:
    """Watch a bought-out work for its buyer (once per buyout grant)."""
    existing = session.exec(
        select(ExclusivityWatch).where(ExclusivityWatch.grant_id == grant_id)
    ).first()
    if existing is not None:
        return existing
    seeds = earlier_pages(session, work_id)
    crawl_watch = None
    if seeds:
        crawl_watch = CrawlWatch(
            owner_id=persisted_id(buyer),
            seeds=seeds,
            max_pages=EXCLUSIVITY_MAX_PAGES,
            interval_s=EXCLUSIVITY_INTERVAL_S,
        )
        session.add(crawl_watch)
        session.flush()
    watch = ExclusivityWatch(
        work_id=work_id,
        buyer_id=persisted_id(buyer),
        grant_id=grant_id,
        crawl_watch_id=None if crawl_watch is None else crawl_watch.id,
    )
    session.add(watch)
    session.flush()
    notify(
        session,
        buyer,
        EXCLUSIVITY_KIND,
        N_("Work %(work)s is watched for you"),
        N_(
            "You bought work %(work)s outright. Any copy found outside your verified domain now "
            "raises an alert for you, and the %(pages)s page(s) where copies were seen before "
            "are re-crawled daily."
        )
        if seeds
        else N_(
            "You bought work %(work)s outright. Any copy found outside your verified domain now "
            "raises an alert for you."
        ),
        {"work_id": work_id, "grant_id": grant_id},
        params={"work": work_id, "pages": len(seeds)},
    )
    return watch


def exclusivity_watches(session: Session, buyer: User) -> list[ExclusivityWatch]:
    return list(
        session.exec(
            select(ExclusivityWatch)
            .where(ExclusivityWatch.buyer_id == buyer.id)
            .order_by(col(ExclusivityWatch.id))
        ).all()
    )
