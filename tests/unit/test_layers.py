"""A layer is tested without the layers above it: frontend > bench > settlement > licensing >
registry > similarity.

The source packages' layering is import-linter's contract (`make lint`, `[tool.importlinter]`
in pyproject.toml). This check holds each layer's unit tests (tests/unit/<layer>/) to the same
order, together with the test helpers (`tests.*` modules) they import, which import-linter does
not read. Every import counts, deferred ones and those under TYPE_CHECKING included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
LAYERS = ("similarity", "registry", "licensing", "settlement", "bench", "frontend")
# The loopback servers (Redis, S3) the fault benchmarks stop and start, which the shared fixtures
# start too: the module imports no layer of the app (checked below), so a registry test using
# them still depends on nothing above the registry.
SHARED_SERVERS = "bench.servers"
# What a layer takes by injection, its tests may pass as the composition root does.
INJECTED_FROM_ABOVE = {
    # bench.wiring.ScratchApp: `copymark bench` passes this implementation of it.
    "bench": frozenset({"frontend.cli.scratch"}),
    # NotificationServices.mail_translate: the app passes the catalogs' frontend.i18n.gettext_in.
    "registry": frozenset({"frontend.i18n"}),
}


def _imports(source: Path) -> Iterable[tuple[str, list[str]]]:
    """(module, names imported from it) for each absolute import in one module."""
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]


def imported_modules(source: Path) -> set[str]:
    """The modules one module imports, by their dotted names."""
    return {module for module, _names in _imports(source)}


def _module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def with_test_helpers(sources: Iterable[Path]) -> set[Path]:
    """The given test modules and every `tests.*` module they import, directly or not."""
    found: set[Path] = set()
    pending = list(sources)
    while pending:
        source = pending.pop()
        if source in found:
            continue
        found.add(source)
        for module, names in _imports(source):
            if module.split(".")[0] != "tests":
                continue
            for dotted in (module, *(f"{module}.{name}" for name in names)):
                helper = _module_file(dotted)
                if helper is not None:
                    pending.append(helper)
    return found


def upward_imports(sources: Iterable[Path], layer: str, allowed: frozenset[str]) -> set[str]:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    return {
        f"{source.relative_to(ROOT)} imports {module}"
        for source in sources
        for module in imported_modules(source)
        if module.split(".")[0] in above and module not in allowed
    }


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layers_unit_tests_import_no_layer_above_it(layer: str) -> None:
    tests = with_test_helpers((TESTS / "unit" / layer).rglob("*.py"))
    allowed = INJECTED_FROM_ABOVE.get(layer, frozenset())
    assert not upward_imports(tests, layer, allowed)


def test_the_shared_fixtures_import_nothing_above_the_registry() -> None:
    """tests/conftest.py serves every layer's tests; its per-test database needs the registry."""
    shared = with_test_helpers([TESTS / "conftest.py"])
    assert not upward_imports(shared, "registry", frozenset({SHARED_SERVERS}))


def test_the_shared_servers_import_no_layer_of_the_app() -> None:
    servers = _module_file(SHARED_SERVERS)
    assert servers is not None
    assert not {module for module in imported_modules(servers) if module.split(".")[0] in LAYERS}


def test_the_check_follows_test_helpers() -> None:
    assert _module_file("tests.unit.registry.wiring") == TESTS / "unit" / "registry" / "wiring.py"
    service_tests = TESTS / "unit" / "registry" / "test_service.py"
    assert TESTS / "factories.py" in with_test_helpers([service_tests])


@pytest.mark.parametrize("layer", sorted(INJECTED_FROM_ABOVE))
def test_each_allowance_is_still_needed(layer: str) -> None:
    """An allowance no test uses any more goes, so it cannot hide a new upward import."""
    tests = with_test_helpers((TESTS / "unit" / layer).rglob("*.py"))
    used = {line.rsplit(" ", 1)[1] for line in upward_imports(tests, layer, frozenset())}
    assert used == INJECTED_FROM_ABOVE[layer]
