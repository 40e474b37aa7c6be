"""What ``compute_metrics`` costs a window that refreshes it while a run grows, and once from scratch.

Usage: ``python benchmarks/bench_metrics.py [--tasks N ...] [--batches B]`` (default: 100,000 and
1,000,000 tasks of a no-op-like run on 2 workers, chunksize 1000, fed in 60 batches with their
state intervals). After every batch the window's refresh is timed (``compute_metrics`` on the
growing Timeline: it sums again only the blocks of tasks written since the last call); at the end,
a call with nothing new and a call from scratch (nothing kept). Figures are the calling thread's
CPU time in ms (steadier than wall on a loaded machine), with the load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procviz.engine.metrics import compute_metrics  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from tests.synthetic import synth_batches  # noqa: E402


def _cpu_ms(tl: Timeline) -> float:
    t = time.thread_time()
    compute_metrics(tl)
    return (time.thread_time() - t) * 1e3


def bench(n: int, batches: int) -> dict[str, float]:
    """Feed ``n`` tasks in ``batches`` batches, timing a refresh after each."""
    stream = synth_batches(n_tasks=n, n_lanes=2, chunksize=1000, mean_ms=0.005, min_ms=0.002, gap_ms=0.002,
                           batches=batches, sample_ms=1.0)
    tl = Timeline()
    refresh = []
    for batch in stream:
        tl.apply(batch)
        refresh.append(_cpu_ms(tl))
    again = min(_cpu_ms(tl) for _ in range(3))
    scratch = []
    for _ in range(3):
        tl.derived.clear()
        scratch.append(_cpu_ms(tl))
    return {"refresh_median": statistics.median(refresh[1:]), "refresh_max": max(refresh[1:]),
            "unchanged": again, "scratch": min(scratch)}


def main() -> None:
    """Print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()
    print(f"compute_metrics, CPU ms of the calling thread ({args.batches} batches; load {os.getloadavg()[0]:.1f})")
    for n in args.tasks:
        r = bench(n, args.batches)
        print(f"{n:>9} tasks: refresh after a batch median {r['refresh_median']:.2f} ms (max {r['refresh_max']:.2f}), "
              f"nothing new {r['unchanged']:.2f} ms, from scratch {r['scratch']:.1f} ms "
              f"(load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
