"""The Tux Paint stamps corpus; invariant: its training and evaluation halves never share a stamp.

Debian's `tuxpaint-stamps-default` package installs the stamps under `STAMPS_DIR`; the test run
and `copymark bench` require it, like PostgreSQL and Chromium. A stamp's half is fixed by the
first hex digit of the SHA-256 of its path relative to that folder (POSIX separators, UTF-8):

- training, 8-f: trains the embedding head (`similarity.embedding.train`) and is the engine's
  score-normalisation background (`similarity.engine.background_images`);
- evaluation, 0-7: the copy-detection benchmark's references and distractors
  (`bench.similarity.dataset`) and the evaluation printed after training.

So no figure is ever measured on a stamp the network was trained on, and a benchmark copy is
never normalised against its own source. Each user used to spell the split itself: the benchmark
set as `frozenset("01234567")`, training as `frozenset("89abcdef")` (evaluation being its
complement) and the engine's background as the string `"89abcdef"`; all meant this one split,
which is unchanged here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final, Literal

STAMPS_DIR: Final = Path("/usr/share/tuxpaint/stamps")
STAMPS_PACKAGE: Final = "tuxpaint-stamps-default"
TRAINING_HEX_DIGITS: Final = frozenset("89abcdef")
EVALUATION_HEX_DIGITS: Final = frozenset("01234567")

Half = Literal["training", "evaluation"]


def stamp_half(relative_path: str) -> Half:
    """The half a stamp belongs to, from its path relative to the stamps folder."""
    digit = hashlib.sha256(relative_path.encode("utf-8")).hexdigest()[0]
    return "training" if digit in TRAINING_HEX_DIGITS else "evaluation"


def is_training_stamp(relative_path: str) -> bool:
    """True for stamps that train the network; they are never evaluated on."""
    return stamp_half(relative_path) == "training"


def is_evaluation_stamp(relative_path: str) -> bool:
    """True for stamps the benchmark may use; they are never trained on."""
    return stamp_half(relative_path) == "evaluation"


def stamps(half: Half, stamps_dir: Path = STAMPS_DIR) -> list[tuple[str, Path]]:
    """(relative POSIX path, file) of every stamp PNG of one half, sorted by file path.

    Empty when the folder is missing: callers that need the corpus say so with `STAMPS_PACKAGE`.
    """
    found: list[tuple[str, Path]] = []
    if not stamps_dir.is_dir():
        return found
    for path in sorted(stamps_dir.rglob("*.png")):
        relative = path.relative_to(stamps_dir).as_posix()
        if stamp_half(relative) == half:
            found.append((relative, path))
    return found
