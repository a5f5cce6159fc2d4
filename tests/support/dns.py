"""DNS TXT answers from a table, for the `TxtResolver` protocol that domain verification asks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TxtTable:
    """TXT records answered from a table, standing in for DNS; remembers what was asked."""

    records: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def txt_records(self, name: str) -> list[str]:
        self.asked.append(name)
        return list(self.records.get(name, []))
