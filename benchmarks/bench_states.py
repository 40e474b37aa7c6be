"""The README's state and metric figures, measured as procviz stands.

    python benchmarks/bench_states.py

1. Lane shares (running / ready / waiting of each worker's life, from its state intervals, mean
   over lanes) for 4 CPU workers pinned to one CPU, sleep tasks and threads; with the count of
   intervals whose on-CPU + ready exceeds their length and of lanes not tiled from ready to exit.
2. Speedup shown (estimate) against a serial run of the same work measured right after it
   (serial makespan / this run's work time), for the threads-on-the-GIL preset and the Lock
   scenario, with the other load the machine lane saw.

Prints a Markdown table. Nothing here asserts; tests/test_fidelity*.py assert the invariants.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.runner import Engine, RunResult  # noqa: E402


def run(config: dict) -> RunResult:
    """Run ``config`` to its end."""
    engine = Engine()
    engine.start(parse_config(config))
    result = engine.join(300)
    assert result is not None
    return result


def shares(result: RunResult) -> tuple[float, float, float, int, int]:
    """Mean lane shares (running, ready, waiting), intervals over their length, untiled lanes."""
    tl = result.timeline
    iv = tl.intervals.data
    over = int(np.count_nonzero(iv["cpu_ns"] + iv["ready_ns"] > iv["end_ns"] - iv["start_ns"]))
    rows, untiled = [], 0
    for info in tl.lanes:
        if info.kind == "parent" or info.ready_ns < 0:
            continue
        mine = iv[iv["lane"] == info.index]
        mine = mine[np.argsort(mine["start_ns"])]
        life = info.exit_ns - info.ready_ns
        if not len(mine) or mine["start_ns"][0] != info.ready_ns or mine["end_ns"][-1] != info.exit_ns \
                or not np.array_equal(mine["start_ns"][1:], mine["end_ns"][:-1]):
            untiled += 1
            continue
        c, r = mine["cpu_ns"].sum() / life, mine["ready_ns"].sum() / life
        rows.append((c, r, 1 - c - r))
    mean = np.mean(rows, axis=0) if rows else np.zeros(3)
    return float(mean[0]), float(mean[1]), float(mean[2]), over, untiled


def preset(name: str) -> dict:
    """A bundled preset's config."""
    text = resources.files("procviz.resources").joinpath("presets", name).read_text(encoding="utf-8")
    return json.loads(text)["config"]


def main() -> None:
    """Measure and print the table."""
    print("| run | running | ready | waiting | intervals over length | lanes not tiled |")
    print("| --- | --- | --- | --- | --- | --- |")
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        pinned = run({"workers": 4, "api": "map", "chunksize": 1,
                      "workload": {"kind": "cpu", "count": 8, "duration_ms": 300}})
    finally:
        os.sched_setaffinity(0, cpus)
    cases = [("4 CPU workers on 1 CPU, 8 x 300 ms", pinned),
             ("2 workers, 8 x 200 ms sleep", run({"workers": 2, "workload": {"kind": "sleep", "count": 8,
                                                                               "duration_ms": 200}})),
             ("2 threads, 4 x 300 ms CPU", run({"backend": "thread_pool_executor", "workers": 2, "api": "submit",
                                                 "workload": {"kind": "cpu", "count": 4, "duration_ms": 300}}))]
    for name, result in cases:
        c, r, w, over, untiled = shares(result)
        print(f"| {name} | {c:.1%} | {r:.1%} | {w:.1%} | {over} of {len(result.timeline.intervals)} | {untiled} |")
    print()
    print("| run | speedup shown | serial makespan / work | other load |")
    print("| --- | --- | --- | --- |")
    gil = preset("backend_4_threads_gil.json")
    lock = preset("scenario_lock_critical_section.json")
    for name, config, serial_work in (
            ("threads on the GIL (preset)", gil, gil["workload"]),
            ("Lock scenario (preset)", lock, {**lock["workload"], "count": lock["workload"]["count"] - 1})):
        result = run(config)
        serial = run({"backend": "serial", "workers": 1, "workload": serial_work})
        m = result.metrics
        truth = serial.metrics.makespan_ns / m.work_ns
        print(f"| {name} | {m.speedup_text()} | {truth:.2f}x | {m.other_load:.0%} of {m.cpus} CPUs |")


if __name__ == "__main__":
    from launcher_name import name_main_as_the_launcher

    name_main_as_the_launcher()  # its workers must not import numpy again through this script
    main()
