import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# A fresh interpreter: the limits are per process, and the test process may already hold them.
_PROBE = """
import json, sys
import cv2, faiss
from threadpoolctl import threadpool_info
from similarity.engine import SimilarityEngine
before = {"faiss": faiss.omp_get_max_threads(), "cv2": cv2.getNumThreads()}
SimilarityEngine(__import__("pathlib").Path(sys.argv[1]), None, lambda _work_id: None)
after = {
    "faiss": faiss.omp_get_max_threads(),
    "cv2": cv2.getNumThreads(),
    "blas": [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"],
}
print(json.dumps({"before": before, "after": after}))
"""


def _probed(probe: str, folder: Path) -> dict[str, Any]:
    """What `probe` prints last, run in a fresh interpreter whose libraries may use two threads."""
    run = subprocess.run(
        [sys.executable, "-c", probe, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"},
    )
    answer: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return answer


def test_an_engine_runs_its_numeric_libraries_on_one_thread(tmp_path: Path) -> None:
    threads = _probed(_PROBE, tmp_path)
    assert threads["before"]["faiss"] == 2
    assert threads["after"]["faiss"] == 1
    assert threads["after"]["cv2"] == 1
    assert threads["after"]["blas"]
    assert set(threads["after"]["blas"]) == {1}


_THREAD_PROBE = """
import json, sys, threading
import faiss
import numpy as np
from similarity.engine import SimilarityEngine
engine = SimilarityEngine(__import__("pathlib").Path(sys.argv[1]), None, lambda _work_id: None)
seen = {}
def search():
    seen["before"] = faiss.omp_get_max_threads()
    engine.search_hashes(np.zeros((1, 32), np.uint8), 1)
    seen["after"] = faiss.omp_get_max_threads()
thread = threading.Thread(target=search)
thread.start()
thread.join()
print(json.dumps(seen))
"""


def test_a_search_from_a_thread_started_later_runs_faiss_on_one_thread(tmp_path: Path) -> None:
    threads = _probed(_THREAD_PROBE, tmp_path)
    # OpenMP gives a new thread every core again; its first search takes it down to one.
    assert threads == {"before": 2, "after": 1}
