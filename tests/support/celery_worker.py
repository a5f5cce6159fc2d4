"""A real Celery worker, as `copymark worker` starts it, running the probe task or registration.

`python -m tests.support.celery_worker [TIME_LIMIT_S [register]]` reads COPYMARK_* settings like
the CLI. It runs only the probe kind (its blobs go to COPYMARK_BLOB_URL when that is set), or only
registration, so a test may set a visibility timeout shorter than a crawl's time limit.
"""

from __future__ import annotations

import sys

from frontend.cli.worker import run_worker
from frontend.services import Services
from frontend.settings import Settings
from registry.service import registration_task
from registry.tasks.queue import TaskKinds
from tests.support.task_probe import probe_kind

if __name__ == "__main__":
    time_limit_s = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    services = Services(Settings())
    if sys.argv[2:] == ["register"]:
        kind = registration_task(lambda: services.registrar, time_limit_s)
    else:
        kind = probe_kind(time_limit_s, services.blobs if services.settings.blob_url else None)
    run_worker(services, TaskKinds([kind]), kind.queue, 1)
