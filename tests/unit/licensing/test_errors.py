"""Licensing's errors are kinds of the one error root: their kind's status, codes of their own."""

from __future__ import annotations

import pytest

import licensing.errors
import registry.errors
import registry.log.errors
import registry.monitoring.errors
import registry.notifications.errors
from registry.errors import Conflict, CopymarkError, NotFound

REGISTRY_MODULES = (
    registry.errors,
    registry.log.errors,
    registry.monitoring.errors,
    registry.notifications.errors,
)


def errors_defined_in(module: object) -> list[type[Exception]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == getattr(module, "__name__", None)
    ]


def test_every_licensing_error_descends_from_the_one_root() -> None:
    classes = errors_defined_in(licensing.errors)
    assert classes
    for cls in classes:
        assert issubclass(cls, CopymarkError), cls


def test_licensing_codes_are_its_own() -> None:
    registry_codes = {
        vars(cls)["code"]
        for module in REGISTRY_MODULES
        for cls in errors_defined_in(module)
        if "code" in vars(cls)
    }
    licensing_codes = [
        vars(cls)["code"] for cls in errors_defined_in(licensing.errors) if "code" in vars(cls)
    ]
    assert len(set(licensing_codes)) == len(licensing_codes)
    assert not registry_codes & set(licensing_codes)


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (licensing.errors.FrozenVersionError("frozen"), Conflict, 409),
        (licensing.errors.UnknownParentWorkError("work 3"), NotFound, 404),
    ],
)
def test_a_licensing_error_takes_the_status_of_its_kind(
    error: CopymarkError, kind: type[CopymarkError], status: int
) -> None:
    assert isinstance(error, kind)
    assert error.status_code == status
    assert error.message == str(error)
