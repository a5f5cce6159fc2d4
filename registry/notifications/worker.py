"""The `notify` task: one delivery round, run by whichever queue the composition root chose."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sqlmodel import Session

from registry.notifications.delivery import NOTIFY_TASK, NotificationServices, delivery_round
from registry.tasks.queue import TaskArgs, TaskKind

# Retries and digests fall due with no commit to announce them: a round runs this often anyway.
ROUND_PERIOD: Final = timedelta(seconds=30)


def delivery_task(services: NotificationServices) -> TaskKind:
    """Send what is due; the deliveries' claims and leases make concurrent rounds safe."""

    def run(_session: Session, _args: TaskArgs) -> None:
        delivery_round(services)

    return TaskKind(
        name=NOTIFY_TASK,
        queue="notify",
        run=run,
        time_limit_s=15 * 60,
        period_s=ROUND_PERIOD.total_seconds(),
    )
