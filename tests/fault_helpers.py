"""Fault injection for tests/test_faults*.py: one module whose import or tasks misbehave on demand,
and the scan for surviving processes of a tagged run.

The module (written into a temporary folder) reads ``PROCVIZ_FAULT`` at import: ``raise``,
``exit`` (sys.exit(4)), ``os_exit`` (os._exit(7)) or ``hang``, in worker processes only
(``PROCVIZ_FAULT_WHERE=workers``, the default) or also in plain processes such as the import
check (``everywhere``). Runs are tagged with ``PROCVIZ_FAULT_TAG`` in the environment every
process of the run inherits; :func:`survivors` lists the processes still carrying the tag.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

from procviz.engine.worker import workloads

FAULT_MODULE = '''
import multiprocessing, os, signal, subprocess, sys, time
FAULT = os.environ.get("PROCVIZ_FAULT", "")
WHERE = os.environ.get("PROCVIZ_FAULT_WHERE", "workers")
if FAULT and (WHERE == "everywhere" or multiprocessing.parent_process() is not None):
    if FAULT == "raise":
        raise RuntimeError("fault injected at import")
    if FAULT == "exit":
        sys.exit(4)
    if FAULT == "os_exit":
        os._exit(7)
    if FAULT == "hang":
        while True:
            time.sleep(0.2)

def ok(x):
    return x

def nap(s):
    time.sleep(s)
    return s

def popen(x):
    subprocess.Popen(["sleep", "60"])
    return x

def mp_child(x):
    p = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    p.start()
    return x

RELEASE = False  # a test sets it to let hung thread tasks return at last

def hang(x):
    while not RELEASE:
        time.sleep(0.05)

def segv(x):
    os.kill(os.getpid(), signal.SIGSEGV)

def os_exit(x):
    os._exit(7)
'''

MODULE = "procviz_faultmod"
TAG = "PROCVIZ_FAULT_TAG"
_SHARED = b"from multiprocessing."  # the resource tracker's and fork server's command lines


def fault_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fault module importable here, in workers and in the import check; a fresh run tag."""
    (tmp_path / f"{MODULE}.py").write_text(FAULT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG, tag)
    monkeypatch.delenv("PROCVIZ_FAULT", raising=False)
    # A thread-pool run imports the module here; each test starts from its own fresh copy.
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    for ref in [r for r in workloads._cache if r.startswith(MODULE + ":")]:  # noqa: SLF001
        monkeypatch.delitem(workloads._cache, ref)  # noqa: SLF001
    return tag


def function_of(fn: str, args: list) -> dict:
    """A workload calling the fault module's ``fn`` once per argument list."""
    return {"kind": "function", "function": f"{MODULE}:{fn}", "args": args}


def survivors(tag: str, timeout_s: float = 3.0) -> list[str]:
    """Processes (but this one) whose environment carries ``tag``, after up to ``timeout_s``."""
    needle = f"{TAG}={tag}".encode()
    deadline = time.monotonic() + timeout_s
    while True:
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    env = f.read().split(b"\0")
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if _SHARED in cmdline and stat.split()[3] == str(os.getpid()).encode():
                continue  # this test process's own resource tracker / fork server: shared by all runs
            if needle in env and stat.rsplit(b")", 1)[1].split()[0] != b"Z":
                found.append(stat.split(b" ", 2)[1].decode(errors="replace") + f" pid {name}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
