"""Importing numpy in procviz's own process without OpenBLAS's thread pool.

numpy's bundled OpenBLAS starts one thread per core when it loads, and those threads spin before
they sleep: ~70 ms of CPU on this 2-core machine, taken from the worker processes booting at the
same moment. procviz's parent does no linear algebra, so it loads OpenBLAS with one thread: the
variable is set for the import only and removed again, so worker processes started afterwards
(spawn, forkserver) see the user's environment unchanged and load their own OpenBLAS as usual; one
started during the import (a Pool begun before it replacing a worker) finds the variable named in
``SET_BY_PROCVIZ`` and drops it before any module of the user's is imported
(:func:`procviz.engine.worker.startup.preload`).

Not done when the user set a thread count (theirs is kept), nor for fork workers: they inherit the
parent's loaded OpenBLAS, and must keep the thread count a bare ``Pool`` would give them.
"""

from __future__ import annotations

import os
import sys

# OpenBLAS reads the first of these that is set; any of them set means the user chose.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
SET_BY_PROCVIZ = "PROCVIZ_SET_FOR_IMPORT"  # names the variable procviz set for its import (see startup.py)


def import_numpy(start_method: str = "spawn") -> None:
    """Import numpy now, with a one-thread OpenBLAS unless the user or ``fork`` workers need otherwise."""
    if "numpy" in sys.modules:
        return
    if start_method == "fork" or any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        import numpy  # noqa: F401
        return
    os.environ[SET_BY_PROCVIZ] = "OPENBLAS_NUM_THREADS"  # first: a worker started meanwhile drops both
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)
        os.environ.pop(SET_BY_PROCVIZ, None)
