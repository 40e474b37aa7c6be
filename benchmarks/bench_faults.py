"""What the fault machinery costs: the guardian's start, and the task slot's store per task.

* Guardian: started ``--starts`` times exactly as procviz starts it (``python -S -I`` importing
  ``procviz.engine.guardian_proc``), each with its pipe already at EOF so it exits at once, beside a
  bare ``python -S -I -c pass``; CPU from ``getrusage(RUSAGE_CHILDREN)``, wall per start.
* Task slot: the worker-side store a task start adds (``slot[0] = task_id`` into a shared-memory
  memoryview, as :class:`procviz.engine.worker.instrument.Recorder` does), minus an empty statement.

Usage: ``python benchmarks/bench_faults.py [--starts N] [--json FILE]``.
Timings, not assertions: tests never time anything.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import subprocess
import sys
import time
import timeit

from procviz.engine import guardian, guardian_proc


def _starts(argv: list[str], n: int) -> tuple[float, float]:
    """(wall, CPU) seconds per start of ``argv`` with stdin at EOF."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - t0) / n
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n
    return wall, cpu


def _slot_store_ns() -> float:
    """Nanoseconds one slot store adds (best of repeats, an empty statement's time subtracted)."""
    ids = memoryview(mmap.mmap(-1, 8)).cast("q")
    n = 1_000_000
    store = min(timeit.repeat("ids[0] = 12345", globals={"ids": ids}, number=n, repeat=7)) / n
    empty = min(timeit.repeat("pass", number=n, repeat=7)) / n
    return (store - empty) * 1e9


def main() -> None:
    """Print the table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(guardian_proc.__file__))
    guard = [sys.executable, "-S", "-I", "-c", guardian._BOOT, here, str(os.getpid())]  # noqa: SLF001
    bare = [sys.executable, "-S", "-I", "-c", "pass"]
    _starts(guard, 2)  # its compiled module cached, the interpreter's files in the page cache
    rows = {"bare python -S -I": _starts(bare, args.starts), "guardian": _starts(guard, args.starts)}
    slot_ns = _slot_store_ns()
    print(f"{'what':<24}{'wall per start':>16}{'CPU per start':>16}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<24}{wall * 1e3:>13.1f} ms{cpu * 1e3:>13.1f} ms")
    print(f"task slot store: {slot_ns:.0f} ns per task (worker CPU)")
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"starts": args.starts, "loadavg": os.getloadavg(), "slot_store_ns": slot_ns,
                       **{k: {"wall_s": w, "cpu_s": c} for k, (w, c) in rows.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
