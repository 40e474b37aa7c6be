"""What the ``procviz`` console script's main module cost each spawned worker, and what skipping it saves.

Usage: ``python benchmarks/bench_launcher.py [--pairs N] [RUN ARGS...]`` (default: 8 pairs of the
fixed-cost run, 2 trivial tasks on 2 spawn workers, ``--quiet``).

A spawn child runs its parent's main module again before its work, unless it has a name
(``engine/main_module.py``). Each pair runs the same ``procviz run`` twice, in alternating order,
through two launchers written to a temporary folder:

* ``skip``: the console script exactly as pip writes it (``from procviz.gui.app import main``);
  procviz names it, so its workers skip it;
* ``run again``: the same script with :func:`~procviz.engine.main_module.skip_main_module_in_workers`
  made a no-op first, as procviz was before: every worker runs the script, importing
  ``procviz.gui.app`` and with it argparse, logging and traceback.

Per run: the wall time from fork to reaping, the CPU of the whole process tree (``os.wait4``), and
each worker's start-up as procviz measured it (its NEW interval in the written timeline: process
created -> the worker's hello). Printed: medians and ranges, and the median of the per-pair ratios.
``benchmarks/compare.py`` runs procviz through ``_proc.py``, whose workers skip it alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = ["run", "--backend", "pool", "--workers", "2", "--start-method", "spawn", "--kind", "cpu",
           "--count", "2", "--duration-ms", "0", "--quiet"]
PIP_LAUNCHER = '''import sys
from procviz.gui.app import main
if __name__ == "__main__":
    sys.exit(main())
'''
RUN_AGAIN = '''import sys
import procviz.engine.main_module
procviz.engine.main_module.skip_main_module_in_workers = lambda: None  # as before: workers run this script
from procviz.gui.app import main
if __name__ == "__main__":
    sys.exit(main())
'''


def one_run(launcher: Path, args: list[str], out: Path) -> dict[str, float | list[float]]:
    """Run ``launcher`` with ``args`` writing ``out``; wall s, tree CPU s, the workers' start-up ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(launcher), *args, "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{launcher.name} exited {os.waitstatus_to_exitcode(status)}: {err[-2000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "boot_ms": worker_boots_ms(out)}


def worker_boots_ms(path: Path) -> list[float]:
    """Each worker lane's start-up in the timeline at ``path`` (created -> its hello), in ms."""
    from procviz.engine.events import LaneKind
    from procviz.engine.formats import read_timeline

    lanes = read_timeline(path).lanes
    return sorted((lane.ready_ns - lane.created_ns) / 1e6 for lane in lanes
                  if lane.kind == LaneKind.PROCESS and lane.created_ns >= 0 and lane.ready_ns >= 0)


def spread(values: list[float], fmt: str) -> str:
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    ns, rest = parser.parse_known_args()
    args = rest or DEFAULT
    runs: dict[str, list[dict]] = {"skip": [], "run again": []}
    with tempfile.TemporaryDirectory(prefix="procviz-launcher-") as tmp:
        folder = Path(tmp)
        launchers = {"skip": folder / "procviz_skip.py", "run again": folder / "procviz_run_again.py"}
        launchers["skip"].write_text(PIP_LAUNCHER)
        launchers["run again"].write_text(RUN_AGAIN)
        one_run(launchers["skip"], args, folder / "warm.json")  # the first run compiles and caches
        for i in range(ns.pairs):
            order = list(launchers) if i % 2 == 0 else list(reversed(launchers))
            for name in order:
                runs[name].append(one_run(launchers[name], args, folder / f"{i}.json"))
    load = os.getloadavg()[0]
    print(f"procviz {' '.join(args)}: {ns.pairs} pairs, alternated; load {load:.1f}")
    for name, rs in runs.items():
        boots = [b for r in rs for b in r["boot_ms"]]
        print(f"  {name:10s} wall {spread([r['wall'] for r in rs], '.3f')} s, tree CPU "
              f"{spread([r['cpu'] for r in rs], '.3f')} s, worker start-up {spread(boots, '.1f')} ms")
    for key, label in (("wall", "wall"), ("cpu", "tree CPU")):
        ratios = [a[key] / b[key] for a, b in zip(runs["skip"], runs["run again"], strict=True)]
        print(f"  skip / run again, {label}: median {spread(ratios, '.3f')}")
    boot = [statistics.median(a["boot_ms"]) / statistics.median(b["boot_ms"])
            for a, b in zip(runs["skip"], runs["run again"], strict=True)]
    print(f"  skip / run again, worker start-up: median {spread(boot, '.3f')}")


if __name__ == "__main__":
    main()
