"""The in-process queue tries a task again, further apart each time, while a service is down."""

from __future__ import annotations

import itertools
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from registry.errors import Unavailable
from registry.tasks.inprocess import InProcessQueue
from registry.tasks.models import CompletedTask
from registry.tasks.queue import TaskArgs, TaskKind, TaskKinds
from registry.tasks.runner import retry_delay_s


def test_a_task_that_finds_a_service_down_is_tried_again_until_it_completes(
    db_engine: Engine,
) -> None:
    tries: list[float] = []

    def flaky(_session: Session, _args: TaskArgs) -> None:
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise Unavailable("the mail server cannot be reached; try again shortly")

    kinds = TaskKinds([TaskKind(name="flaky", queue="notify", run=flaky, time_limit_s=10)])
    queue = InProcessQueue(lambda: Session(db_engine), kinds)
    queue.start()
    try:
        queue.submit("flaky", {}, "flaky:1")
        deadline = time.monotonic() + 30
        while len(tries) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        queue.stop()
    assert len(tries) == 3
    waits = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert waits[0] >= retry_delay_s(0)
    assert waits[1] >= retry_delay_s(1)
    with Session(db_engine) as session:
        assert session.get(CompletedTask, "flaky:1") is not None


def test_the_pause_between_tries_doubles_up_to_a_ceiling() -> None:
    delays = [retry_delay_s(n) for n in range(12)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays))
    assert max(delays) == 120.0
