"""One compute thread per process for the numeric libraries a query runs through.

The engine answers one query at a time on small arrays (a few dozen vectors against an index,
500 ORB descriptors against 500), where a thread pool finds no work worth splitting and its
workers spin while they wait for the next call. With two cores' worth of threads, FAISS's OpenMP
pool and OpenBLAS's pools cost about a third of a query's CPU time at 100,000 works (116 -> 77 ms
per query, `copymark bench similarity`, same verdicts) and saved no wall time. Throughput comes
from one worker process per core instead, as the ONNX sessions already assume (one intra-op
thread each). Only the libraries the engine calls are limited: a training run's torch keeps its
own pool.
"""

from __future__ import annotations

import functools
import threading

import cv2
import faiss
from threadpoolctl import threadpool_limits


@functools.cache
def one_thread_per_process() -> None:
    """Limit FAISS (OpenMP), every loaded BLAS and OpenCV to one thread, once per process."""
    faiss.omp_set_num_threads(1)
    # numpy's OpenBLAS and the one FAISS bundles; a library loaded later keeps its own setting.
    threadpool_limits(limits=1, user_api="blas")
    cv2.setNumThreads(1)
    one_openmp_thread_here()


_openmp_limited = threading.local()


def one_openmp_thread_here() -> None:
    """Limit FAISS's OpenMP to one thread in the calling thread, once per thread.

    OpenMP keeps the count per thread: a thread started later (a request's compute thread, an
    index shard's) begins with every core again, whatever the process's first thread set.
    """
    if not getattr(_openmp_limited, "done", False):
        faiss.omp_set_num_threads(1)
        _openmp_limited.done = True
