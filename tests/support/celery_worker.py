"""A real Celery worker, as `copymark worker` starts it, running the probe task.

`python -m tests.support.celery_worker [TIME_LIMIT_S]` reads COPYMARK_* settings like the CLI. It
runs only the probe kind, so a test may set a visibility timeout shorter than a crawl's limit.
"""

from __future__ import annotations

import sys

from frontend.cli.worker import run_worker
from frontend.services import Services
from frontend.settings import Settings
from registry.tasks.queue import TaskKinds
from tests.support.task_probe import probe_kind

if __name__ == "__main__":
    time_limit_s = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    run_worker(Services(Settings()), TaskKinds([probe_kind(time_limit_s)]), "evidence", 1)
