"""Shared helpers for engine tests: run a config to the end, list leftover processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from procviz.engine.config import parse_config
from procviz.engine.events import LaneKind
from procviz.engine.runner import Engine, RunResult
from procviz.engine.timeline import Timeline

START_METHODS = ("spawn", "forkserver")
# Wall-clock bounds that only say "it did not hang": six test runs share two cores (load 6-12), so
# they are generous; that the right limit ended a run is asserted from its reason, not its time.
RUN_BOUND_S = 90.0  # a small run, start to end
STOP_BOUND_S = 30.0  # Engine.stop(): the run has ended by then


def run_config(data: dict, timeout_s: float = 60.0) -> RunResult:
    """Validate ``data``, run it on a fresh Engine and return the result (fails the test on a hang)."""
    engine = Engine()
    engine.start(parse_config(data))
    result = engine.join(timeout_s)
    assert result is not None, f"run did not end within {timeout_s} s"
    return result


def function_workload(fn: str, n: int = 20, **kw: object) -> dict:
    """A workload calling engine.worker.demo_tasks.<fn>(i) for i in range(n)."""
    return {"kind": "function", "function": f"procviz.engine.worker.demo_tasks:{fn}",
            "args": [[i] for i in range(n)], **kw}


def alive_pids(pids: set[int]) -> set[int]:
    """Which of ``pids`` are still running (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.Error:
            pass
    return out


def wait_gone(pids: set[int], timeout_s: float = 5.0) -> set[int]:
    """Wait until none of ``pids`` runs; returns those still alive at the deadline."""
    deadline = time.monotonic() + timeout_s
    left = alive_pids(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = alive_pids(left)
    return left


def worker_lane_pids(timeline: Timeline) -> set[int]:
    """PIDs of the worker lanes (not the parent's callback lane, nor threads of this process)."""
    return {lane.pid for lane in timeline.lanes if lane.kind != LaneKind.PARENT and lane.pid != os.getpid()}


def worker_pids(result: RunResult) -> set[int]:
    """PIDs of the run's worker lanes."""
    return worker_lane_pids(result.timeline)


# multiprocessing's own long-lived helpers and procviz's guardian: one per parent process, shared by
# every run and meant to outlive them (they end with the parent), so they are not processes "of a run".
SHARED_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "import guardian_proc")


def descendants() -> list[psutil.Process]:
    """This test process's live descendants, without the shared helpers (see SHARED_HELPERS)."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(helper in " ".join(child.cmdline()) for helper in SHARED_HELPERS):
                continue
            out.append(child)
        except psutil.Error:
            pass
    return out


def leftover_children(timeout_s: float = 5.0) -> list[psutil.Process]:
    """The descendants (see :func:`descendants`) still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (left := descendants()) and time.monotonic() <= deadline:
        time.sleep(0.05)
    return left


def open_descriptors() -> dict[str, str]:
    """This process's open descriptors: number -> what each names."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # closed meanwhile (the listing's own descriptor)
    return found


def max_overlap(starts: np.ndarray, ends: np.ndarray) -> int:
    """The most task intervals open at one instant."""
    events = sorted([(int(s), 1) for s in starts] + [(int(e), -1) for e in ends], key=lambda p: (p[0], p[1]))
    depth = best = 0
    for _, step in events:
        depth += step
        best = max(best, depth)
    return best


# Tasks that meet: task x waits until its whole group of ``parties`` (x // parties) has arrived, so
# the group runs at once on ``parties`` workers whatever the load. A file per arrival, in a folder
# every process of the run sees. A group that never gathers (its tasks run one at a time) gives up
# after LIMIT_S and leaves a mark that stops later tasks waiting, so a run without overlap still
# ends (in LIMIT_S) and the test looking for overlap fails.
RENDEZVOUS_MODULE = '''
import os, time
LIMIT_S = 30.0
def meet(folder, parties, x):
    open(os.path.join(folder, str(x)), "w").close()
    need = parties * (x // parties + 1)
    gave_up = os.path.join(os.path.dirname(folder), "gave-up")
    deadline = time.monotonic() + LIMIT_S
    while len(os.listdir(folder)) < need and not os.path.exists(gave_up):
        if time.monotonic() > deadline:
            open(gave_up, "w").close()
        time.sleep(0.005)
    return x
'''


def rendezvous_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parties: int, n: int) -> dict:
    """A workload of ``n`` tasks meeting in groups of ``parties`` (see RENDEZVOUS_MODULE).

    The module is written to ``tmp_path``, made the current folder, where the import check and the
    workers look for it (like a user's ``mytasks.py``).
    """
    (tmp_path / "procviz_rendezvous.py").write_text(RENDEZVOUS_MODULE)
    arrived = tmp_path / "arrived"
    arrived.mkdir()
    monkeypatch.chdir(tmp_path)
    return {"kind": "function", "function": "procviz_rendezvous:meet",
            "args": [[str(arrived), parties, x] for x in range(n)]}
