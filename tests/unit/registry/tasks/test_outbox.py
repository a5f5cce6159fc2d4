"""The outbox, the relay and run_once on each database, with the in-process queue."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from registry.models import utcnow
from registry.tasks.errors import UnknownTask
from registry.tasks.inprocess import InProcessQueue
from registry.tasks.models import CompletedTask, OutboxTask
from registry.tasks.outbox import enqueue, relay, requeue_unfinished
from registry.tasks.queue import TaskArgs, TaskKinds
from registry.tasks.runner import run_once
from tests.support.task_probe import PROBE_TASK, create_probe_table, effects, probe_kind

KINDS = TaskKinds([probe_kind()])


class Handed:
    """A queue that keeps what it is handed, failing from the `fail_from`-th submission on."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.submitted: list[tuple[str, TaskArgs, str]] = []
        self.fail_from = fail_from

    def submit(self, task: str, args: TaskArgs, key: str) -> None:
        if self.fail_from is not None and len(self.submitted) >= self.fail_from:
            raise ConnectionError("the broker is down")
        self.submitted.append((task, args, key))


@pytest.fixture
def sessions(db_engine: Engine) -> Callable[[], Session]:
    create_probe_table(db_engine)
    return lambda: Session(db_engine, expire_on_commit=False)


def outbox_keys(sessions: Callable[[], Session]) -> list[str]:
    with sessions() as session:
        return [row.key for row in session.exec(select(OutboxTask).order_by(OutboxTask.id))]


def test_a_rolled_back_transaction_enqueues_nothing(sessions: Callable[[], Session]) -> None:
    with sessions() as session:
        enqueue(session, PROBE_TASK, {"mark": "a"}, "probe:a")
        session.rollback()
    queue = Handed()
    assert relay(sessions, queue) == 0
    assert queue.submitted == []
    assert outbox_keys(sessions) == []


def test_a_committed_task_is_relayed_once_in_order(sessions: Callable[[], Session]) -> None:
    with sessions() as session:
        enqueue(session, PROBE_TASK, {"mark": "a"}, "probe:a")
        enqueue(session, PROBE_TASK, {"mark": "b"}, "probe:b")
        session.commit()
    queue = Handed()
    assert relay(sessions, queue) == 2
    assert relay(sessions, queue) == 0
    assert queue.submitted == [
        (PROBE_TASK, {"mark": "a"}, "probe:a"),
        (PROBE_TASK, {"mark": "b"}, "probe:b"),
    ]


def test_a_key_enqueued_twice_is_one_task(sessions: Callable[[], Session]) -> None:
    for _ in range(2):
        with sessions() as session:
            enqueue(session, PROBE_TASK, {"mark": "a"}, "probe:a")
            enqueue(session, PROBE_TASK, {"mark": "a"}, "probe:a")
            session.commit()
    assert outbox_keys(sessions) == ["probe:a"]


def test_a_broker_failure_leaves_the_rest_for_the_next_round(
    sessions: Callable[[], Session],
) -> None:
    with sessions() as session:
        for mark in "abc":
            enqueue(session, PROBE_TASK, {"mark": mark}, f"probe:{mark}")
        session.commit()
    assert relay(sessions, Handed(fail_from=1)) == 1
    later = Handed()
    assert relay(sessions, later) == 2
    assert [key for _task, _args, key in later.submitted] == ["probe:b", "probe:c"]


def test_a_completed_key_runs_once(sessions: Callable[[], Session], db_engine: Engine) -> None:
    assert run_once(sessions, KINDS, PROBE_TASK, {"mark": "a"}, "probe:a")
    assert not run_once(sessions, KINDS, PROBE_TASK, {"mark": "a"}, "probe:a")
    assert effects(db_engine) == ["a"]


def test_a_failed_run_leaves_no_effect_and_no_completion(
    sessions: Callable[[], Session], db_engine: Engine
) -> None:
    with pytest.raises(KeyError):
        run_once(sessions, KINDS, PROBE_TASK, {"no mark": True}, "probe:broken")
    with sessions() as session:
        assert session.get(CompletedTask, "probe:broken") is None
    assert effects(db_engine) == []


def test_an_unknown_task_is_refused_by_name(sessions: Callable[[], Session]) -> None:
    with pytest.raises(UnknownTask, match="'resize'"):
        run_once(sessions, KINDS, "resize", {}, "resize:1")


def test_concurrent_deliveries_of_one_key_have_one_effect(
    sessions: Callable[[], Session], db_engine: Engine
) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def deliver() -> None:
        barrier.wait()
        results.append(
            run_once(sessions, KINDS, PROBE_TASK, {"mark": "a", "sleep_s": 0.2}, "probe:a")
        )

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert effects(db_engine) == ["a"]


def test_the_in_process_queue_runs_what_was_committed_and_requeues_the_unfinished(
    sessions: Callable[[], Session], db_engine: Engine
) -> None:
    with sessions() as session:
        enqueue(session, PROBE_TASK, {"mark": "a"}, "probe:a")
        session.commit()
    relay(sessions, Handed())  # handed to a queue that then died with its process
    with sessions() as session:
        assert requeue_unfinished(session) == 1
        session.commit()
    queue = InProcessQueue(sessions, KINDS)
    queue.start()
    try:
        assert relay(sessions, queue) == 1
    finally:
        queue.stop()
    assert effects(db_engine) == ["a"]
    with sessions() as session:
        assert requeue_unfinished(session) == 0


def test_only_tasks_handed_over_before_the_cutoff_and_never_completed_are_handed_over_again(
    sessions: Callable[[], Session],
) -> None:
    with sessions() as session:
        for mark in ("stale", "done", "recent"):
            enqueue(session, PROBE_TASK, {"mark": mark}, f"probe:{mark}")
        session.commit()
    assert relay(sessions, Handed()) == 3
    with sessions() as session:
        long_ago = utcnow() - timedelta(hours=7)
        for row in session.exec(select(OutboxTask)).all():
            if row.key != "probe:recent":
                row.relayed_at = long_ago
                session.add(row)
        session.add(CompletedTask(key="probe:done", task=PROBE_TASK))
        session.commit()
    with sessions() as session:
        assert requeue_unfinished(session, relayed_before=utcnow() - timedelta(hours=6)) == 1
        session.commit()
    again = Handed()
    assert relay(sessions, again) == 1
    assert [key for _task, _args, key in again.submitted] == ["probe:stale"]
