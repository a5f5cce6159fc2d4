"""The README's contract examples run as written."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontend.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = [
    line.strip()
    for line in README.read_text().splitlines()
    if line.strip().startswith("copymark contract ") and "FILE" not in line
]


def test_the_readme_has_contract_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("command", EXAMPLES)
def test_readme_example_runs(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(README.parent)
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
