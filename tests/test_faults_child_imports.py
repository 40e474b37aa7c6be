"""Children the engine starts one by one (a Process per task, the serial worker, scenario roles)
import the standard library only: no numpy, no psutil, no parent-side procviz module.

Two views: the import closure of their entry points in a fresh interpreter (``-X importtime``), and
real children of real runs, which report what they loaded (function workloads) or whose mapped
libraries are read from ``/proc/<pid>/maps`` while they run (scenario roles).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from engine_helpers import function_workload, run_config
from fault_helpers import fault_setup, tagged

HEAVY = ("numpy", "psutil", "PySide6", "pyqtgraph")
# What a child unpickles: its entry point, the role functions' modules, their arguments' classes.
CHILD_MODULES = ("procviz.engine.worker.child", "procviz.engine.scenarios.roles", "procviz.engine.scenarios.queues",
                 "procviz.engine.scenarios.pipes", "procviz.engine.scenarios.shared", "procviz.engine.scenarios.sync")
ROLE_MODULES = {"procviz.engine.scenarios", *CHILD_MODULES}


def test_child_entry_points_import_the_standard_library_only() -> None:
    code = ";".join(f"import {m}" for m in CHILD_MODULES)
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "procviz.engine.worker.child" in imported  # the check sees what it should
    heavy = {m for m in imported if m.partition(".")[0] in HEAVY}
    parent_side = {m for m in imported if m.startswith("procviz.") and not m.startswith("procviz.engine.worker")
                   and m not in ROLE_MODULES and m != "procviz.engine"}
    assert not heavy, heavy
    assert not parent_side, parent_side


@pytest.mark.parametrize("backend", ["process", "serial"])
def test_a_real_child_loads_no_heavy_module(backend: str) -> None:
    result = run_config({"backend": backend, "workers": 2, "workload": function_workload("heavy_modules", 3)})
    texts = result.timeline.texts
    assert len(texts) == 3 and all(t.kind == "result" for t in texts.values())
    assert [t.message for t in texts.values()] == ["''"] * 3


def _maps_of_tagged(tag: str) -> dict[int, str]:
    """{pid: its mapped files} of this run's processes (not this one)."""
    out = {}
    for pid in tagged(tag):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"multiprocessing.resource_tracker" in f.read():
                    continue  # shared by every run of this process; not a child of the scenario
            with open(f"/proc/{pid}/maps") as f:
                out[pid] = f.read()
        except OSError:
            pass
    return out


def test_scenario_roles_map_no_heavy_library(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    tag = fault_setup(tmp_path, monkeypatch)
    seen: dict[int, str] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(_maps_of_tagged(tag))  # the latest view of each process: libraries only add up
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = run_config({"backend": "process", "scenario": "queue_producer_consumer", "workers": 2,
                             "workload": {"kind": "sleep", "count": 5, "duration_ms": 300}})
    finally:
        done.set()
        watcher.join(5)
    assert result.outcome == "completed"
    assert len(seen) >= 2, "no role process was seen running"
    for pid, maps in seen.items():
        loaded = [lib for lib in ("_multiarray_umath", "_psutil_linux", "QtCore") if lib in maps]
        assert not loaded, f"role process {pid} loaded {loaded}"
