"""Fault injection for tests/test_faults*.py: one module whose import or tasks misbehave on demand,
and the scan for surviving processes of a tagged run.

The module (written into a temporary folder) reads ``PROCVIZ_FAULT`` at import: ``raise``,
``exit`` (sys.exit(4)), ``os_exit`` (os._exit(7)) or ``hang``, in worker processes only
(``PROCVIZ_FAULT_WHERE=workers``, the default) or also in plain processes such as the import
check (``everywhere``). Runs are tagged with ``PROCVIZ_FAULT_TAG`` in the environment every
process of the run inherits; :func:`survivors` lists the processes still carrying the tag.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from procviz.engine.guardian_proc import stat_of
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

def hang_marked(path):
    """``hang``, once file ``path`` says that this task began."""
    open(path, "w").close()
    hang(path)

def segv(x):
    os.kill(os.getpid(), signal.SIGSEGV)

def os_exit(x):
    os._exit(7)

def scrubbed(go, out):
    """Once file ``go`` exists, start ``sleep 60`` with an empty environment (no run tag) and write
    its PID to file ``out``; then wait."""
    open(out + ".ready", "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    child = subprocess.Popen(["env", "-i", "sleep", "60"])
    with open(out + ".tmp", "w") as f:
        f.write(str(child.pid))
    os.rename(out + ".tmp", out)
    time.sleep(60)

def popen_nap(s):
    subprocess.Popen(["sleep", "60"])
    time.sleep(s)
    return s

def daemon_nap(s):
    """A double-forked ``sleep 60`` (procviz's child at once, out of reach of its worker's lifeline)."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "60"])
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(s)
    return s

def mp_nap(s):
    p = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    p.start()
    time.sleep(s)
    return s


# ---- task-level faults: one dispatcher, one fault per kind (tests/test_faults_matrix.py) -------

class Unpicklable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        import threading
        self.lock = threading.Lock()

class Unloadable(Exception):
    def __init__(self, a, b):  # pickles, but cannot be unpickled (args do not match __init__)
        super().__init__(f"{a}-{b}")

def _sys_exit(): sys.exit(3)
def _keyboard_interrupt(): raise KeyboardInterrupt
def _raise(): raise ValueError("fault injected in a task")
def _unpicklable_exc(): raise Unpicklable()
def _unloadable_exc(): raise Unloadable(1, 2)
def _unpicklable_result():
    import threading
    return threading.Lock()
def _big_result(): return b"r" * (20 * 1024 * 1024)
def _big_output():
    sys.stdout.write("o" * (20 * 1024 * 1024))
    sys.stdout.flush()
def _os_exit(): os._exit(7)
def _segv(): os.kill(os.getpid(), signal.SIGSEGV)
def _sigkill(): os.kill(os.getpid(), signal.SIGKILL)
def _hang():
    while True:
        time.sleep(0.05)
def _grandchild(): subprocess.Popen(["sleep", "60"])

FAULTS = {"raise": _raise, "sys_exit": _sys_exit, "keyboard_interrupt": _keyboard_interrupt,
          "unpicklable_exc": _unpicklable_exc, "unloadable_exc": _unloadable_exc,
          "unpicklable_result": _unpicklable_result, "big_result": _big_result, "big_output": _big_output,
          "os_exit": _os_exit, "segv": _segv, "sigkill": _sigkill, "hang": _hang, "grandchild": _grandchild}

def task(kind, x):
    """The dispatcher: task ``x`` does fault ``kind`` when ``x == 0``; the other tasks are innocents."""
    if x == 0:
        return FAULTS[kind]()
    return x
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
    """Processes (but this one) whose environment carries ``tag``, after up to ``timeout_s``; those
    still there then are SIGKILLed (by PID) after being listed."""
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
            for text in found:  # reported, and ended so that a failing test leaves nothing behind
                with contextlib.suppress(OSError):
                    os.kill(int(text.rsplit(" ", 1)[1]), signal.SIGKILL)
            return found
        time.sleep(0.1)


def start_time(pid: int) -> int | None:
    """The start time (clock ticks since boot) of live process ``pid``; None if gone or a zombie."""
    stat = stat_of(pid)
    return None if stat is None or stat[2] in ("Z", "X") else stat[1]


def slowness(cpu_s: float = 0.1) -> float:
    """How many times slower than idle this machine is now (at least 1), for a bound that is a
    promise on an idle machine ("Stop within 2 s"): the wall time ``cpu_s`` of this thread's own
    CPU work takes now, over ``cpu_s``, i.e. one over the share of a core a busy step gets. Six
    test runs share two cores: at load 10 it is several times."""
    t0, c0 = time.perf_counter(), time.thread_time()
    while time.thread_time() - c0 < cpu_s:
        pass
    return max(1.0, (time.perf_counter() - t0) / cpu_s)


def tagged(tag: str) -> dict[int, str]:
    """PID -> command name of every process (but this one) whose environment carries ``tag``."""
    needle = f"{TAG}={tag}".encode()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/comm") as f:
                found[int(name)] = f.read().strip()
        except OSError:
            pass
    return found
