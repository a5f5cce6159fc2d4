"""Imports point down only: frontend > bench > settlement > licensing > registry > similarity.

Every import counts, deferred ones and those under TYPE_CHECKING included: a lower layer that
needs something from a higher one takes it as a parameter that the composition root passes in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("similarity", "registry", "licensing", "settlement", "bench", "frontend")


def imported_packages(source: Path) -> set[str]:
    """Top-level names of the absolute imports in one module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_layer_above_it(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    upward = {
        f"{source.relative_to(ROOT)} imports {', '.join(sorted(imported_packages(source) & above))}"
        for source in sorted((ROOT / layer).rglob("*.py"))
        if imported_packages(source) & above
    }
    assert not upward
