"""Reading the engine's decision generically: a verdict string, perhaps a calibrated p_copy.

`SimilarityEngine.decide` answers "copy" or "no_match" today; a third verdict and a probability
may follow. The benchmark counts whatever verdicts the engine gives, so its figures report the
engine's decision as it stands, never a re-derivation from scores.
"""

from __future__ import annotations

import typing


def verdict_of(decision: object) -> str:
    """A decision's verdict: the decision itself when a string (or str enum), else its
    `verdict`, `decision`, `label` or `value` attribute."""
    if isinstance(decision, str):
        return str(decision)
    for attribute in ("verdict", "decision", "label", "value"):
        value = getattr(decision, attribute, None)
        if isinstance(value, str):
            return value
    raise TypeError(f"cannot read a verdict from {decision!r}")


def p_copy_of(decision: object) -> float | None:
    """The decision's calibrated probability of a copy, when it carries one."""
    value = getattr(decision, "p_copy", None)
    return float(value) if isinstance(value, int | float) else None


def engine_verdicts() -> tuple[str, ...]:
    """The verdicts the engine declares (`similarity.matcher`'s Literal types), if any."""
    from similarity import matcher

    declared: dict[str, None] = {}
    for name in ("Verdict", "Decision"):
        for argument in typing.get_args(getattr(matcher, name, None)):
            if isinstance(argument, str):
                declared[argument] = None
    return tuple(declared)
