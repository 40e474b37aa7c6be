"""What the fault machinery costs: the guardian's start, and the task slot's store per task.

* Guardian: started ``--starts`` times exactly as procviz starts it (``python -S -I`` importing
  ``procviz.engine.guardian_proc``), each with its pipe already at EOF so it exits at once, beside a
  bare ``python -S -I -c pass``; CPU from ``getrusage(RUSAGE_CHILDREN)``, wall per start.
* Guardian while a run is live: it follows procviz's tree every ``WALK_S`` (a listing of /proc and
  a stat of each new PID). Its CPU (``/proc/<pid>/schedstat``) over a run of ``--live-s`` seconds, after
  a first run started it, per second of the run: a pool of 2 sleeping workers (few new PIDs) and
  the process backend with 20 ms tasks (a new process per task, each one read once).
* Task slot: the worker-side store a task start adds (``slot[0] = task_id`` into a shared-memory
  memoryview, as :class:`procviz.engine.worker.instrument.Recorder` does), minus an empty statement.

Usage: ``python benchmarks/bench_faults.py [--starts N] [--live-s S] [--json FILE]``.
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


def _starts(argv: list[str], n: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds per start of ``argv`` with stdin at EOF."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True, env=env)
    wall = (time.perf_counter() - t0) / n
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n
    return wall, cpu


def _cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` so far: the kernel's on-CPU nanoseconds (/proc/<pid>/schedstat; the
    stat file's ticks are sampled, too coarse for a process that runs 0.1 ms at a time)."""
    with open(f"/proc/{pid}/schedstat", "rb") as f:
        return int(f.read().split()[0]) / 1e9


def _live_cpu(config: dict) -> tuple[float, float, int]:
    """(guardian CPU per wall second of the run, the run's wall seconds, its tasks) for ``config``."""
    from procviz.engine.config import parse_config
    from procviz.engine.runner import Engine

    def run(data: dict) -> float:
        engine = Engine()
        t0 = time.perf_counter()
        engine.start(parse_config(data))
        assert engine.join(600) is not None
        return time.perf_counter() - t0

    run({**config, "workload": {"kind": "sleep", "count": 2, "duration_ms": 1}})  # starts the guardian
    pid = guardian.guardian.pid
    before = _cpu_s(pid)
    wall = run(config)
    return (_cpu_s(pid) - before) / wall, wall, config["workload"]["count"]


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
    parser.add_argument("--live-s", type=float, default=10.0, help="length of each live run")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    guard, env = guardian.guardian_argv(), guardian.guardian_env()
    bare = [sys.executable, "-S", "-I", "-c", "pass"]
    _starts(guard, 2, env)  # its compiled module cached, the interpreter's files in the page cache
    rows = {"bare python -S -I": _starts(bare, args.starts), "guardian": _starts(guard, args.starts, env)}
    live = {
        "pool, 2 workers": _live_cpu({"backend": "pool", "workers": 2, "workload": {
            "kind": "sleep", "count": max(2, int(args.live_s * 2)), "duration_ms": 1000}}),
        "process per task, 20 ms": _live_cpu({"backend": "process", "workers": 2, "workload": {
            "kind": "sleep", "count": max(2, int(args.live_s * 20)), "duration_ms": 20}}),
    }
    slot_ns = _slot_store_ns()
    print(f"{'what':<24}{'wall per start':>16}{'CPU per start':>16}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<24}{wall * 1e3:>13.1f} ms{cpu * 1e3:>13.1f} ms")
    print(f"guardian while a run is live (walk every {guardian_proc.WALK_S * 1e3:.0f} ms):")
    for name, (share, wall, n) in live.items():
        print(f"  {name:<26}{share * 100:>6.2f} % of a core over {wall:.1f} s ({n} tasks)")
    print(f"task slot store: {slot_ns:.0f} ns per task (worker CPU)")
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"starts": args.starts, "loadavg": os.getloadavg(), "slot_store_ns": slot_ns,
                       **{k: {"wall_s": w, "cpu_s": c} for k, (w, c) in rows.items()},
                       "guardian_live": {k: {"cpu_share": c, "wall_s": w, "tasks": n}
                                         for k, (c, w, n) in live.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
