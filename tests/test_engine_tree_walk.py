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


# A "worker" whose child waits on their shared stdin between its fork and its exec of `sleep`.
_FORKER = ("import os, sys, time\n"
           "pid = os.fork()\n"
           "if pid == 0:\n"
           "    os.read(0, 1)\n"
           "    os.execvp('sleep', ['sleep', '30'])\n"
           "print(pid, flush=True)\n"
           "time.sleep(30)\n")


def test_the_sweep_names_a_process_by_its_name_then_not_when_first_seen() -> None:
    """A scan that meets a task's child between its fork and its exec notes its parent's name; the
    sweep names what it kills as it is then (a full suite once read "pid N (python)" for the
    `sleep` a task had started). The child is held in that gap until the scan has seen it."""
    worker = subprocess.Popen([sys.executable, "-c", _FORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    grandchild = 0
    try:
        grandchild = int(worker.stdout.readline())  # type: ignore[union-attr]
        tree = RunTree("test-names")
        first = {m.pid: m.name for m in tree.remember([worker.pid])}
        assert first[grandchild] != "sleep"  # seen before its exec
        worker.stdin.write(b"g")  # type: ignore[union-attr]
        worker.stdin.flush()  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while _comm(grandchild) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _comm(grandchild) == "sleep"
        killed = {m.pid: m.name for m in tree.sweep([worker.pid])}
        assert killed[grandchild] == "sleep"
    finally:
        worker.kill()
        worker.wait()
        if grandchild:
            try:
                os.kill(grandchild, signal.SIGKILL)
                os.waitpid(grandchild, 0)  # adopted by this process (a subreaper) once its worker died
            except (ProcessLookupError, ChildProcessError):
                pass  # reaped already (the sweep, or init)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
