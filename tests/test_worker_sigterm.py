"""An idle Pool worker dies by SIGTERM whichever of its threads the kernel hands the signal to.

Its SIGTERM handler (flush, then die by SIGTERM) is Python code, which runs only in the main
thread; the main thread of an idle worker sits blocked in the task queue. A SIGTERM taken by
another thread must still reach it (engine/worker/instrument.py forwards it).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path

from procviz.engine.worker.startup import bootstrap

SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _takes_sigterm(pid: int, tid: int) -> bool:
    """Whether thread ``tid`` of ``pid`` does not block SIGTERM."""
    for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return not int(line.split()[1], 16) & SIGTERM_BIT
    return False


def _idle_worker(address: str, lock: object) -> None:
    """A procviz worker (the Pool's initializer), then idle as a Pool worker is: blocked on a lock."""
    bootstrap(address, "")
    lock.acquire()  # type: ignore[attr-defined]  # held by the test: blocks until the end


def test_a_sigterm_taken_by_another_thread_still_ends_an_idle_worker(tmp_path: Path) -> None:
    address = str(tmp_path / "events.sock")
    ctx = multiprocessing.get_context("spawn")
    lock = ctx.Lock()
    lock.acquire()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sink:
        sink.bind(address)
        sink.settimeout(30)
        proc = ctx.Process(target=_idle_worker, args=(address, lock), daemon=True)
        proc.start()
        try:
            sink.recv(1 << 20)  # its hello: the worker is set up, its threads started
            deadline = time.monotonic() + 10
            others: list[int] = []
            while not others and time.monotonic() < deadline:
                others = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")
                          if int(t) != proc.pid and _takes_sigterm(proc.pid, int(t))]
                time.sleep(0.05)
            assert others, "a thread besides the main one that does not block SIGTERM (the lifeline's)"
            # kill() naming a thread's id is still a signal to the whole process, but the kernel
            # hands it to that thread first: the main thread's blocked wait is not interrupted.
            os.kill(others[0], signal.SIGTERM)
            proc.join(10)
            assert proc.exitcode == -signal.SIGTERM, "the worker ended by SIGTERM, not left running"
        finally:
            if proc.exitcode is None:
                proc.kill()
                proc.join(5)
