"""The CLI output contract: JSON lines on stdout; progress and one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

# soft_wrap keeps every error on one line whatever the terminal width.
stderr = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="one JSON object per line on stdout")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error on stderr and exit with `code`."""
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def emit(record: dict[str, Any]) -> None:
    """One JSON object on its own line on stdout, flushed so pipes see it at once."""
    sys.stdout.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
