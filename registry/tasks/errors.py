"""Errors of background work: configuration mistakes an operator must fix."""

from __future__ import annotations

from registry.errors import Invalid


class TaskError(Invalid):
    """Base of background-work errors."""


class UnknownTask(TaskError):
    code = "unknown_task"
