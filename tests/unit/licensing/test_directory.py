from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from licensing.directory import directory_resolver
from licensing.errors import InvalidContractError, UnknownParentWorkError
from tests.unit.licensing.factories import contract_data


def write(folder: Path, name: str, **overrides: object) -> None:
    (folder / name).write_text(yaml.safe_dump(contract_data(**overrides)), encoding="utf-8")


def test_finds_the_contract_of_a_work_by_its_subject(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", contract_id="alpha", subject={"work": "work-7"})
    assert directory_resolver(tmp_path)("work-7").contract_id == "alpha"


def test_prefers_the_highest_version_of_a_work_contract(tmp_path: Path) -> None:
    write(tmp_path, "v1.yaml", version=1)
    write(tmp_path, "v2.yaml", version=2)
    assert directory_resolver(tmp_path)("work-1").version == 2


def test_refuses_two_files_with_the_same_work_and_version(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml")
    write(tmp_path, "b.yaml")
    with pytest.raises(InvalidContractError, match="ambiguous contracts for work work-1"):
        directory_resolver(tmp_path)("work-1")


def test_names_invalid_files_when_a_work_is_missing(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("format: nope\n", encoding="utf-8")
    with pytest.raises(UnknownParentWorkError, match=r"work-3 .*broken\.yaml"):
        directory_resolver(tmp_path)("work-3")
