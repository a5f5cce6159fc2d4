"""An account's crawls are limited: by role, by how many run at once, by how many a day."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from registry.db import unit_of_work
from registry.models import User, utcnow
from registry.monitoring.errors import CrawlQuotaExceeded, MonitoringNotAllowed
from registry.monitoring.models import CrawlJob, JobStatus
from registry.monitoring.service import CrawlQuota, request_crawl
from registry.roles import Role
from tests.unit.registry.wiring import RegistryParts

SEEDS = ["https://example.com/"]


def ask(
    parts: RegistryParts, user: User, quota: CrawlQuota, now: datetime | None = None
) -> CrawlJob:
    with unit_of_work(parts.session) as session:
        return request_crawl(session, user, SEEDS, 1, [], permitted_hosts=[], quota=quota, now=now)


def finish_all(parts: RegistryParts) -> None:
    with unit_of_work(parts.session) as session:
        for job in session.exec(select(CrawlJob)).all():
            job.status = JobStatus.FINISHED
            session.add(job)


def test_a_second_crawl_while_one_is_queued_waits(parts: RegistryParts, alice: User) -> None:
    quota = CrawlQuota(per_day=10, at_once=1)
    ask(parts, alice, quota)
    with pytest.raises(CrawlQuotaExceeded, match="1 crawls queued or running") as refused:
        ask(parts, alice, quota)
    assert refused.value.retry_after_s > 0
    finish_all(parts)
    ask(parts, alice, quota)


def test_the_daily_quota_frees_up_a_day_after_the_oldest_crawl(
    parts: RegistryParts, alice: User
) -> None:
    quota = CrawlQuota(per_day=2, at_once=5)
    for _ in range(2):
        ask(parts, alice, quota)
    with pytest.raises(CrawlQuotaExceeded, match="2 crawls in the last 24 hours") as refused:
        ask(parts, alice, quota)
    assert 24 * 3600 - 60 < refused.value.retry_after_s <= 24 * 3600 + 1
    ask(parts, alice, quota, now=utcnow() + timedelta(days=1, seconds=1))


@pytest.mark.parametrize("roles", [set(), {Role.BRAND}, {Role.CREATOR}])
def test_only_monitoring_roles_may_crawl(
    parts: RegistryParts, alice: User, roles: set[Role]
) -> None:
    with unit_of_work(parts.session) as session:
        user = session.get(User, alice.id)
        assert user is not None
        user.roles = sorted(role.value for role in roles)
        session.add(user)
        session.flush()
        with pytest.raises(MonitoringNotAllowed, match="rights_holder"):
            request_crawl(session, user, SEEDS, 1, [], permitted_hosts=[], quota=CrawlQuota())
