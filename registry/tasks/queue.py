"""The one interface background work goes through: `submit(task, args, key)`, and the task kinds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlmodel import Session

from registry.messages import N_
from registry.tasks.errors import UnknownTask

QueueName = Literal["fingerprint", "crawl", "evidence", "notify", "settlement"]
QUEUES: tuple[QueueName, ...] = ("fingerprint", "crawl", "evidence", "notify", "settlement")

# The broker's visibility timeout exceeds the longest time limit by this much: Redis hands a task
# left unacknowledged that long to another worker.
VISIBILITY_MARGIN_S = 600.0

TaskArgs = dict[str, Any]
TaskBody = Callable[[Session, TaskArgs], None]


@dataclass(frozen=True)
class TaskKind:
    """A kind of background work: its name, the queue it runs on and its body.

    The body gets a session whose transaction also records the task's completion: writes made
    through it happen once however often the task is delivered. A body that commits on its own
    (a crawl job) must be safe to run again from the start, since a killed run is redelivered.
    """

    name: str
    queue: QueueName
    run: TaskBody
    time_limit_s: float
    # A periodic kind is submitted every `period_s` by each serving process (`Ticker`).
    period_s: float | None = None


class TaskKinds(Mapping[str, TaskKind]):
    """The kinds a process can run, by name."""

    def __init__(self, kinds: Iterable[TaskKind] = ()) -> None:
        self._kinds = {kind.name: kind for kind in kinds}

    def __getitem__(self, name: str) -> TaskKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownTask(
                N_("no task named %(name)s is known to this process"), name=repr(name)
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def periodic(self) -> list[TaskKind]:
        """The kinds that run every period, with no event to ask for them."""
        return [kind for kind in self._kinds.values() if kind.period_s is not None]


class TaskQueue(Protocol):
    """Somewhere a task can be handed to run later; submitting a key twice runs it once."""

    def submit(self, task: str, args: TaskArgs, key: str) -> None: ...
