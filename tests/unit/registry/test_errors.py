"""The one error root: every registry error has its kind's status and a stable machine code.

Licensing's errors are checked alongside its tests (tests/unit/licensing/test_errors.py).
"""

from __future__ import annotations

import re

import pytest

import registry.log.errors
import registry.monitoring.errors
import registry.notifications.errors
from registry.errors import CertificateError, CopymarkError, Forbidden, Invalid, NotFound

DOMAIN_MODULES = (
    registry.log.errors,
    registry.monitoring.errors,
    registry.notifications.errors,
)
CODE = re.compile(r"[a-z][a-z0-9_]*")
STATUS_CODES = {400, 401, 403, 404, 409, 413, 422, 429, 500, 503}


def every_error() -> list[type[CopymarkError]]:
    """Each subclass once, although a domain error descends from both its base and its kind."""
    found: dict[type[CopymarkError], None] = {}
    pending: list[type[CopymarkError]] = [CopymarkError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls)
        pending.extend(cls.__subclasses__())
    return list(found)


def test_every_domain_error_descends_from_the_one_root() -> None:
    for module in DOMAIN_MODULES:
        classes = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Exception)
            and value.__module__ == module.__name__
        ]
        assert classes, module.__name__
        for cls in classes:
            assert issubclass(cls, CopymarkError), cls


@pytest.mark.parametrize("cls", every_error(), ids=lambda cls: cls.__qualname__)
def test_each_error_has_a_status_and_a_stable_code(cls: type[CopymarkError]) -> None:
    assert cls.status_code in STATUS_CODES
    assert CODE.fullmatch(cls.code), cls.code


def test_codes_name_one_error_each() -> None:
    owners: dict[str, type[CopymarkError]] = {}
    for cls in every_error():
        if "code" not in vars(cls):
            continue
        assert cls.code not in owners, f"{cls} and {owners.get(cls.code)} share {cls.code}"
        owners[cls.code] = cls


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (registry.log.errors.LeafNotFoundError("no leaf 9"), NotFound, 404),
        (registry.log.errors.ProofRequestError("index 9 beyond 3"), Invalid, 422),
        (registry.monitoring.errors.ForbiddenHost("no"), Forbidden, 403),
        (CertificateError("not UTF-8"), Invalid, 422),
    ],
)
def test_a_domain_error_takes_the_status_of_its_kind(
    error: CopymarkError, kind: type[CopymarkError], status: int
) -> None:
    assert isinstance(error, kind)
    assert error.status_code == status
    assert error.message == str(error)
