"""The reaper's snapshots walk down the run's own processes (the kernel's children lists), not a
stat of every process on the machine: they must find what the full pass over /proc finds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from procviz.engine import proctree
from procviz.engine.proctree import RunTree

# A "worker" that starts a grandchild and prints its PID, then waits.
_PARENT = ("import subprocess, sys, time; "
           "p = subprocess.Popen(['sleep', '30']); print(p.pid, flush=True); time.sleep(30)")


@pytest.mark.skipif(not proctree.CHILDREN_LISTED, reason="this kernel keeps no children lists")
def test_the_walk_finds_what_the_pass_over_proc_finds() -> None:
    worker = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    plain = subprocess.Popen(["sleep", "30"])  # a child of this process born during the run
    grandchildren: list[int] = []
    try:
        grandchild = int(worker.stdout.readline())  # type: ignore[union-attr]
        grandchildren.append(grandchild)
        deadline = time.monotonic() + 30
        walked = RunTree("test-walk")
        walked._children_before.discard(plain.pid)  # noqa: SLF001 - born "during" the run
        walked._children_before.discard(worker.pid)  # noqa: SLF001
        by_walk = {m.pid for m in walked.remember([worker.pid], every=False)}
        while grandchild not in by_walk and time.monotonic() < deadline:  # its fork may lag the print
            by_walk |= {m.pid for m in walked.remember([worker.pid], every=False)}
        scanned = RunTree("test-scan")
        scanned._children_before = set(walked._children_before)  # noqa: SLF001
        by_scan = {m.pid for m in scanned.remember([worker.pid])}
        assert {worker.pid, grandchild, plain.pid} <= by_walk
        assert by_walk == by_scan
    finally:
        for pid in grandchildren:
            os.kill(pid, signal.SIGKILL)
        for proc in (worker, plain):
            proc.kill()
            proc.wait()
        for pid in grandchildren:  # adopted by this process (a subreaper) once its worker died
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # init reaped it
