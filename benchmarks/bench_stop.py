"""How long a Stop takes, pressed at random moments of big runs on every backend and API.

Usage: ``python benchmarks/bench_stop.py [--seed N] [--tasks N] [--rounds N] [--backends NAME ...]``.
For each backend (all by default) and each of its APIs (Pool: map, imap, starmap, apply,
apply_async...; the executors: map, submit; process and serial: 300 tasks, one process or call
each), a run of ``--tasks`` tasks (200 000 by default; sleep or CPU, 0 or 1 ms, a random start
method) is started on an in-process engine and stopped after 0, 50 ms and a random 0.1-1.5 s. It
prints, per case, the time from ``Engine.stop`` to the run's result, and checks what a Stop
promises: a result within 30 s, every task in a terminal state, a text for every cancelled task,
no process of the run left (the helpers that serve every run, the guardian, the resource tracker
and the fork server, excepted). Exit code 1 if a check failed. Wall time on a shared machine:
say the load beside a figure.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

HELPERS = ("resource_tracker", "forkserver", "-S -I -c")  # processes that serve every run


def _left_behind() -> list[tuple[int, str]]:
    """This process's live descendants, the shared helpers excepted."""
    import psutil

    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if not any(mark in cmd for mark in HELPERS):
            out.append((p.pid, p.name()))
    return out


def main() -> int:
    """Run the cases; returns the exit code."""
    import numpy as np

    from procviz.engine.config import parse_config
    from procviz.engine.events import RunOutcome, TaskState
    from procviz.engine.runner import Engine
    from procviz.engine.specs import BACKEND_SPECS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backends", nargs="*", default=list(BACKEND_SPECS), help="(default: all)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"load {os.getloadavg()[0]:.1f}", flush=True)
    worst, bad = 0.0, 0
    for _ in range(args.rounds):
        for name, spec in ((n, BACKEND_SPECS[n]) for n in args.backends):
            for api in spec.apis:
                n = args.tasks if name in ("pool", "process_pool_executor", "thread_pool_executor") else 300
                for delay in (0.0, 0.05, rng.uniform(0.1, 1.5)):
                    kind = rng.choice(["sleep", "cpu"])
                    config = {"backend": name, "workers": 2, "api": api,
                              "workload": {"kind": kind, "count": n, "duration_ms": rng.choice([0, 1])}}
                    if name in ("pool", "process_pool_executor"):
                        config["start_method"] = rng.choice(["spawn", "fork", "forkserver"])
                    engine = Engine()
                    engine.start(parse_config(config))
                    time.sleep(delay)
                    t = time.monotonic()
                    engine.stop(20)
                    result = engine.join(30)
                    took = time.monotonic() - t
                    problems = []
                    if result is None:
                        problems.append("no result within 30 s")
                    else:
                        tl = result.timeline
                        open_tasks = int((tl.state < TaskState.DONE).sum())
                        if open_tasks:
                            problems.append(f"{open_tasks} tasks not ended")
                        cancelled = np.flatnonzero(tl.state == TaskState.CANCELLED)
                        if any(int(i) not in tl.texts for i in cancelled[:1000]):
                            problems.append("a cancelled task without its reason")
                        if result.outcome not in (RunOutcome.STOPPED, RunOutcome.COMPLETED):
                            problems.append(f"outcome {result.outcome.value}: {result.message[:100]}")
                    left = _left_behind()
                    if left:
                        time.sleep(2)  # a process killed moments ago may not be reaped yet
                        left = _left_behind()
                        if left:
                            problems.append(f"left behind: {left}")
                    worst, bad = max(worst, took), bad + bool(problems)
                    outcome = result.outcome.value if result is not None else "-"
                    print(f"{name:22} {api:16} {config.get('start_method', '-'):10} {kind:5} "
                          f"stopped after {delay:4.2f} s: Stop took {took:5.2f} s, {outcome:9} "
                          f"{'; '.join(problems) or 'ok'}", flush=True)
    print(f"slowest Stop {worst:.2f} s; {bad} case(s) failed a check; load {os.getloadavg()[0]:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":  # spawned workers import this file as their main module
    sys.exit(main())
