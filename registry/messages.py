"""Sentences written in English where they arise and put into the reader's language later.

The catalogs belong to the composition root (frontend.i18n), above every domain, so a domain
cannot translate: it writes an English template with `%(name)s` placeholders, marks it with `N_`
(which the catalog check extracts, and which changes nothing at run time), and keeps the values
apart. Whoever knows the reader (a page, an email to a stored language) renders it with their
translator. A value is substituted, never parsed, so a work title holding `%`, `%(x)s` or `{}`
reads as written. A template with values writes a literal percent sign `%%`; one without
values is not formatted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Translator = Callable[[str], str]


def N_(template: str) -> str:  # noqa: N802 - gettext's conventional name for a no-op marker
    """Mark `template` for the catalogs without translating it."""
    return template


def as_written(template: str) -> str:
    """The translator of the source language: every template stays English."""
    return template


@dataclass(frozen=True)
class Message:
    """An English template and the values of its placeholders."""

    template: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, translate: Translator = as_written) -> str:
        """The sentence in `translate`'s language; English where a translation does not fit."""
        values = {
            name: value.render(translate) if isinstance(value, Message) else value
            for name, value in self.params.items()
        }
        if not values:
            return translate(self.template)
        try:
            return translate(self.template) % values
        except (KeyError, ValueError, TypeError):
            # A translation that lost or misspelt a placeholder must not lose the sentence.
            return self.template % values

    def english(self) -> str:
        return self.render(as_written)

    def to_json(self) -> dict[str, Any]:
        """The template and values as JSON-ready data, a translated value as a nested object."""
        return {"template": self.template, "params": params_to_json(self.params)}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Message:
        return cls(str(document["template"]), params_from_json(document.get("params") or {}))


# A value for a placeholder: plain text or a number, or a word that is itself translated.
Param = str | int | float | Message


def listed(items: Sequence[Param]) -> Param:
    """Words as one list, each translated where it is a `Message`, joined as each language
    writes a list: "retail, buyout" in English and "零售、买断" in Chinese."""
    if not items:
        return ""
    joined = items[0]
    for item in items[1:]:
        joined = Message(N_("%(items)s, %(item)s"), {"items": joined, "item": item})
    return joined


def problems_listed(problems: Sequence[Param]) -> Param:
    """Problems as one sentence, "a; b" in English and "a；b" in Chinese."""
    if not problems:
        return ""
    joined = problems[0]
    for problem in problems[1:]:
        joined = Message(N_("%(problems)s; %(problem)s"), {"problems": joined, "problem": problem})
    return joined


def params_to_json(params: Mapping[str, Param]) -> dict[str, Any]:
    return {
        name: value.to_json() if isinstance(value, Message) else value
        for name, value in params.items()
    }


def params_from_json(document: Mapping[str, Any]) -> dict[str, Param]:
    """Stored values back; a nested object is a translated word (no stored value is a dict
    otherwise, since `params_to_json` writes only text, numbers and messages)."""
    values: dict[str, Param] = {}
    for name, value in document.items():
        if isinstance(value, dict):
            values[str(name)] = Message.from_json(value)
        elif isinstance(value, str | int | float):
            values[str(name)] = value
        else:
            values[str(name)] = str(value)
    return values
