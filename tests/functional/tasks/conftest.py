"""A Redis broker emptied for each test, the probe's table, and real Celery workers running it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.servers import RedisServer
from registry.tasks.celery_queue import CeleryQueue, celery_app
from registry.tasks.queue import TaskKinds
from tests.support.task_probe import (
    PROBE_TIME_LIMIT_S,
    PROBE_VISIBILITY_TIMEOUT_S,
    create_probe_table,
    probe_kind,
)
from tests.support.workers import Workers


@pytest.fixture(autouse=True)
def probe_table(db_engine: Engine) -> None:
    create_probe_table(db_engine)


@pytest.fixture
def sessions(db_engine: Engine) -> Callable[[], Session]:
    return lambda: Session(db_engine, expire_on_commit=False)


@pytest.fixture
def broker(redis_server: RedisServer) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def queue(broker: str) -> CeleryQueue:
    kinds = TaskKinds([probe_kind(PROBE_TIME_LIMIT_S)])
    app = celery_app(broker, kinds, visibility_timeout_s=PROBE_VISIBILITY_TIMEOUT_S)
    return CeleryQueue(app, kinds)


@pytest.fixture
def workers(broker: str, database_url: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(
        broker, database_url, tmp_path, visibility_timeout_s=PROBE_VISIBILITY_TIMEOUT_S
    )
    yield started
    started.stop_all()
