"""Background work wired: the task kinds, the queue configuration chose, the relay that feeds it.

Embedded (no `task_broker_url`): tasks run on threads of the serving process. With a broker:
the serving process only relays its outbox to Redis, and `copymark worker` processes run the
tasks; every process that serves also ticks the periodic delivery round, keyed by the period,
so it runs once however many serve.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from frontend.services import Services
from licensing.service.grants import grant_expiry_task
from registry.enforcement.service import reminder_task
from registry.notifications.worker import delivery_task
from registry.snapshots import change_pruning_task
from registry.tasks.inprocess import InProcessQueue
from registry.tasks.outbox import requeue_unfinished
from registry.tasks.queue import VISIBILITY_MARGIN_S, TaskKinds, TaskQueue
from registry.tasks.relay import OutboxRelay, Ticker
from settlement.service.payouts import payout_task

if TYPE_CHECKING:
    from celery import Celery

    from registry.monitoring.jobs import Monitor


def task_kinds(services: Services, monitor: Callable[[], Monitor]) -> TaskKinds:
    """Every kind of background work, wired to this process's services."""
    from registry.monitoring.jobs import crawl_task, evidence_task
    from registry.service import registration_task

    return TaskKinds(
        [
            registration_task(lambda: services.registrar),
            delivery_task(services),
            reminder_task(),
            grant_expiry_task(),
            change_pruning_task(),
            crawl_task(monitor),
            evidence_task(monitor),
            payout_task(
                services.payment_gateway_if_configured,
                services.payout_policy,
                timedelta(seconds=services.settings.payout_period_s),
            ),
        ]
    )


def celery_for(services: Services, kinds: TaskKinds, *, runs_tasks: bool) -> Celery:
    """The Celery app on the configured broker; `runs_tasks` where workers execute them."""
    from registry.tasks.celery_queue import celery_app

    settings = services.settings
    return celery_app(
        settings.task_broker_url,
        kinds,
        services.session if runs_tasks else None,
        visibility_timeout_s=settings.task_visibility_timeout_s or None,
    )


def republish_after_s(services: Services, kinds: TaskKinds) -> float:
    """How long after handing a task over the relay hands it over again if it never completed.

    Past this, no delivery of it can still be running or due: the broker's redelivery of a task
    whose worker died comes after the visibility timeout (plus up to a sweep interval), and a
    run lasts at most the longest time limit. What is left failed, passed its time limit or was
    lost; its key makes a second run harmless.
    """
    longest = max((kind.time_limit_s for kind in kinds.values()), default=0.0)
    visibility = services.settings.task_visibility_timeout_s or longest + VISIBILITY_MARGIN_S
    return visibility + longest + VISIBILITY_MARGIN_S


class BackgroundWork:
    """The relay, the periodic tickers and (embedded) the in-process queue, started together."""

    def __init__(self, services: Services, kinds: TaskKinds) -> None:
        self.services = services
        self.local: InProcessQueue | None = None
        queue: TaskQueue
        if services.settings.task_broker_url:
            from registry.tasks.celery_queue import CeleryQueue

            queue = CeleryQueue(celery_for(services, kinds, runs_tasks=False), kinds)
        else:
            self.local = InProcessQueue(services.session, kinds, threads={"crawl": 2})
            queue = self.local
        self.queue = queue
        self.relay = OutboxRelay(
            services.session,
            services.engine,
            queue,
            republish_after_s=republish_after_s(services, kinds),
        )
        self.tickers = [
            Ticker(queue, kind.name, kind.period_s)
            for kind in kinds.periodic()
            if kind.period_s is not None
        ]

    def start(self) -> None:
        if self.local is not None:
            # What the in-process queue held died with the last process: hand it over again.
            with self.services.session() as session:
                requeue_unfinished(session)
                session.commit()
            self.local.start()
        self.relay.start()
        for ticker in self.tickers:
            ticker.start()

    def stop(self) -> None:
        for ticker in self.tickers:
            ticker.stop()
        self.relay.stop()
        if self.local is not None:
            self.local.stop()
