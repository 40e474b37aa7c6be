"""One measured process of benchmarks/compare.py: a bare ``multiprocessing.Pool`` script, ``procviz
run``, or a peer, run with the same task function, start method and chunksize.

Usage: ``python benchmarks/_proc.py bare|procviz|mpire ARGS...`` (compare.py builds the arguments).
At exit the process writes its own peak RSS and CPU time (``getrusage(RUSAGE_SELF)``) as JSON to
the file named by ``$BENCH_SELF_OUT``: the parent's own figures, apart from its workers', which
the caller gets whole from ``os.wait4``. Spawned workers re-import this file as their main module,
so it imports only the standard library at top level (as a user's small script would).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import sys


def _report_self() -> None:
    path = os.environ.get("BENCH_SELF_OUT")
    if not path:
        return
    ru = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w") as f:
        json.dump({"maxrss_kib": ru.ru_maxrss, "cpu_s": ru.ru_utime + ru.ru_stime}, f)


def _task_args(spec: str, n: int) -> object:
    """``ms:<float>``: every task gets that float (the built-in kinds' argument); ``range``: 0..n-1."""
    if spec == "range":
        return range(n)
    return [float(spec.partition(":")[2])] * n


def _function(ref: str) -> object:
    import importlib

    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _done(result: object) -> None:
    """The bare script's callback and error callback (procviz's record themselves, nothing more)."""


def bare(ref: str, spec: str, n: int, workers: int, start_method: str, chunksize: int | None,
         api: str = "map") -> None:
    """What a user writes: a Pool, map (or an apply_async per task, with callbacks, then a wait
    for each result), close, join."""
    import multiprocessing

    ctx = multiprocessing.get_context(start_method)
    pool = ctx.Pool(workers)
    fn = _function(ref)
    if api == "apply_async":
        pending = [pool.apply_async(fn, (a,), callback=_done, error_callback=_done) for a in _task_args(spec, n)]
        for r in pending:
            r.wait()
    else:
        pool.map(fn, _task_args(spec, n), chunksize=chunksize)
    pool.close()
    pool.join()


def mpire(ref: str, spec: str, n: int, workers: int, start_method: str, chunksize: int | None,
          api: str = "map") -> None:
    """MPIRE's WorkerPool with insights on (its own measurement of the workers; map only)."""
    from mpire import WorkerPool

    with WorkerPool(n_jobs=workers, start_method=start_method, enable_insights=True) as pool:
        pool.map(_function(ref), [(a,) for a in _task_args(spec, n)], chunk_size=chunksize)
        pool.get_insights()


def main(argv: list[str]) -> int:
    """Run one mode; returns its exit code."""
    atexit.register(_report_self)  # registered first: runs last, after multiprocessing's exit work
    mode, rest = argv[0], argv[1:]
    if mode == "procviz":
        from procviz.gui.app import main as procviz_main

        sys.argv = ["procviz", *rest]  # as the ``procviz`` console script calls it
        return procviz_main()
    ref, spec, n, workers, start_method, chunksize, api = rest
    cs = None if chunksize == "-" else int(chunksize)
    {"bare": bare, "mpire": mpire}[mode](ref, spec, int(n), int(workers), start_method, cs, api)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
