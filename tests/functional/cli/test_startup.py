"""Loading the CLI, and the licensing commands, never load the heavy engines the other commands use.

`copymark --help` and `copymark contract ...` must start at once: torch, ONNX Runtime, FAISS,
OpenCV, FastAPI, uvicorn and SQLModel are imported only inside the commands that need them.
Each check runs in a fresh interpreter, since this test process has long since imported them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = frozenset({"torch", "onnxruntime", "faiss", "cv2", "fastapi", "uvicorn", "sqlmodel"})


def heavy_modules_after(code: str) -> set[str]:
    """The heavy top-level packages in `sys.modules` once `code` has run in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(result.stdout.splitlines()[-1])
    return {name for name in loaded if name.split(".")[0] in HEAVY}


def test_importing_the_cli_loads_no_heavy_engine() -> None:
    assert heavy_modules_after("import frontend.cli") == set()


def test_simulating_a_contract_loads_no_heavy_engine() -> None:
    arguments = [
        "contract",
        "simulate",
        "examples/contracts/retail-tiers-advance.yaml",
        "--sale-type",
        "retail",
        "--units",
        "120",
        "--price",
        "24.00",
        "--json",
    ]
    code = (
        "from frontend.cli import app\n"
        f"try:\n    app({arguments!r})\n"
        "except SystemExit as done:\n    assert not done.code, done.code\n"
    )
    assert heavy_modules_after(code) == set()
