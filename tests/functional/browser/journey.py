"""What every step of a browser journey checks: it fits the screen, passes axe, is on record.

`snap` saves a full-page screenshot as a test artifact, fails if the page scrolls sideways at
its viewport's width, and runs axe-core (vendored from npm) failing on any serious or critical
violation. Journeys run at desktop and phone widths, in English and in Chinese, through the
`journey_page` fixture (see conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Page

AXE_SOURCE: Final = (
    Path(__file__).parents[2] / "support" / "vendor" / "axe-core" / "axe.min.js"
).read_text(encoding="utf-8")
BLOCKING_IMPACTS: Final = frozenset({"serious", "critical"})


@dataclass(frozen=True, slots=True)
class Viewing:
    """One way a journey is looked at: a screen size and a language."""

    name: str
    width: int
    height: int
    language: str


VIEWINGS: Final = (
    Viewing("desktop-en", 1280, 900, "en"),
    Viewing("desktop-zh", 1280, 900, "zh"),
    Viewing("phone-en", 390, 844, "en"),
    Viewing("phone-zh", 390, 844, "zh"),
)


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport."""
    overflow: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return overflow


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP does not govern.
        page.evaluate(f"() => {{ {AXE_SOURCE}\n; window.axe = axe; }}")
    results: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        violation
        for violation in results["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{violation['impact']} {violation['id']}: {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in violations
    )


def snap(page: Page, folder: Path, name: str) -> Path:
    """Screenshot the step, then check it fits the screen and has no serious a11y problem."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    overflow = sideways_overflow(page)
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than the screen ({page.url})"
    violations = accessibility_violations(page)
    assert not violations, f"{name}: accessibility ({page.url}):\n{describe(violations)}"
    return path
