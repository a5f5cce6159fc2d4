"""Contracts kept as files in one folder, found by the work they are attached to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from licensing.contract import Contract, load_contract
from licensing.errors import InvalidContractError, LicensingError, UnknownParentWorkError
from registry.messages import N_

CONTRACT_SUFFIXES = (".yaml", ".yml", ".json")


def directory_resolver(folder: Path) -> Callable[[str], Contract]:
    """Return a contract resolver that finds a work's contract among the folder's contract files.

    The folder is read on the first lookup. When several files hold contracts of one work, the
    highest version wins; two files with the same work and version are refused as ambiguous.
    """
    by_work: dict[str, list[tuple[Contract, Path]]] = {}
    unreadable: list[str] = []
    loaded = False

    def load() -> None:
        for path in sorted(folder.iterdir()):
            if path.suffix not in CONTRACT_SUFFIXES or not path.is_file():
                continue
            try:
                contract = load_contract(path)
            except LicensingError:
                unreadable.append(path.name)
                continue
            if contract.subject.work is not None:
                by_work.setdefault(contract.subject.work, []).append((contract, path))

    def resolve(work: str) -> Contract:
        nonlocal loaded
        if not loaded:
            load()
            loaded = True
        candidates = by_work.get(work)
        if not candidates:
            if unreadable:
                raise UnknownParentWorkError(
                    N_(
                        "no contract for parent work %(work)s in %(folder)s (%(count)s invalid "
                        "files skipped: %(files)s)"
                    ),
                    work=work,
                    folder=str(folder),
                    count=len(unreadable),
                    files=", ".join(unreadable),
                )
            raise UnknownParentWorkError(
                N_("no contract for parent work %(work)s in %(folder)s"),
                work=work,
                folder=str(folder),
            )
        newest = max(contract.version for contract, _ in candidates)
        chosen = [(contract, path) for contract, path in candidates if contract.version == newest]
        if len(chosen) > 1:
            names = ", ".join(path.name for _, path in chosen)
            raise InvalidContractError(
                N_(
                    "ambiguous contracts for work %(work)s: version %(version)s appears in "
                    "%(files)s"
                ),
                work=work,
                version=newest,
                files=names,
            )
        return chosen[0][0]

    return resolve
