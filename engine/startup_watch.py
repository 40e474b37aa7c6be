"""Worker start-up, watched like a task: a worker that never becomes ready fails the run, by name.

A worker is *starting* from the moment its backend created it until its hello arrives. Workers
say what they are doing before they do it (see :mod:`procviz.engine.worker.startup`), so the
engine can name the step when a start-up goes wrong:

* the step raised or called ``sys.exit``: the worker reported it and left (immediate failure);
* the worker exited with a code before its hello (``os._exit(7)`` at import): immediate failure,
  naming the exit code, the PID and the last step it announced;
* it stayed starting longer than the limit (the task timeout when set, but at least
  ``MIN_STARTUP_S``; ``STARTUP_S`` otherwise): failure, naming the step it is stuck in.

A worker killed by a signal before its hello (a chaos test, the OOM killer) is not judged here: a
pool replaces it, and the engine's "keep exiting before ready" rule catches a crash loop.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from procviz.engine.config import RunConfig
from procviz.engine.guardian_proc import read_file
from procviz.engine.worker.startup import startup_address
from procviz.engine.worker.workloads import BUILTIN_FUNCTIONS

if TYPE_CHECKING:  # events imports numpy: procviz run binds the start-up socket before numpy (head_start)
    from procviz.engine.events import WorkerExit

STARTUP_S = 30.0  # generous: 32 spawn workers on 2 busy cores take seconds to import numpy-sized modules
MIN_STARTUP_S = 10.0  # 32 spawn workers starting at once on 2 busy cores can take several seconds


def preload_function(config: RunConfig) -> str:
    """The ``module:function`` a worker imports while it starts ("" for scenarios)."""
    if config.scenario:
        return ""
    if config.workload.kind == "function":
        return config.workload.function
    return BUILTIN_FUNCTIONS.get(config.workload.kind, "")


def startup_limit_s(config: RunConfig) -> float:
    """How long a worker may take to become ready."""
    if config.task_timeout_s:
        return max(float(config.task_timeout_s), MIN_STARTUP_S)
    return STARTUP_S


@dataclass(frozen=True, slots=True)
class StartupFailure:
    """Why the run cannot go on: a worker could not start."""

    pid: int
    reason_type: str  # "WorkerStartFailed" or "WorkerStartTimeout"
    message: str


class StartupWatch:
    """The engine's end of the start-up socket, and the rules above. Engine thread only."""

    def __init__(self, events_address: str, limit_s: float) -> None:
        self.limit_s = limit_s
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(startup_address(events_address))
        self._sock.setblocking(False)
        self._step: dict[int, str] = {}  # pid -> what it said it is doing
        self._first_seen: dict[int, float] = {}
        self._exited: set[int] = set()
        self.failure: StartupFailure | None = None

    def close(self) -> None:
        """Close the socket (its file goes with the run's directory)."""
        self._sock.close()

    def receive(self) -> None:
        """Take in every start-up datagram waiting."""
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            try:
                msg = json.loads(data)
                pid = int(msg["pid"])
            except (ValueError, KeyError, TypeError):
                continue
            module = str(msg.get("module", ""))
            self._step[pid] = f"importing module {module!r}" if msg.get("stage") == "import" else \
                "connecting to the engine"
            if msg.get("failed") and self.failure is None:
                self.failure = StartupFailure(
                    pid, "WorkerStartFailed",
                    f"worker pid {pid} could not start: {msg.get('message', msg['failed'])} "
                    f"(while importing module {module!r})")

    def step(self, pid: int) -> str:
        """What ``pid`` last said it was doing while starting."""
        return self._step.get(pid, "starting its interpreter")

    def on_exit(self, ex: WorkerExit, ready: bool) -> None:
        """A worker exited; one that exits with a code before it was ready failed to start."""
        self._exited.add(ex.pid)
        if ready or self.failure is not None or ex.exit_code is None or ex.exit_code <= 0:
            return
        from procviz.engine.events import describe_exit  # numpy (see the import above): loaded by now

        self.failure = StartupFailure(
            ex.pid, "WorkerStartFailed",
            f"worker pid {ex.pid} {describe_exit(ex.exit_code)} before it was ready, while {self.step(ex.pid)}")

    def check(self, worker_pids: Iterable[int], ready: set[int]) -> StartupFailure | None:
        """The failure that ends the run, if any (a report, an exit, or a start-up past the limit)."""
        self.receive()
        if self.failure is not None:
            return self.failure
        now = time.monotonic()
        for pid in worker_pids:
            if pid in ready or pid in self._exited:
                self._first_seen.pop(pid, None)
                continue
            since = self._first_seen.setdefault(pid, now)
            if now - since > self.limit_s:
                if _running(pid):
                    self.failure = StartupFailure(
                        pid, "WorkerStartTimeout",
                        f"worker pid {pid} was not ready after {self.limit_s:g} s: it hangs while {self.step(pid)}")
                else:  # dead, its exit not reported (yet): a start-up that ended the worker
                    self.failure = StartupFailure(
                        pid, "WorkerStartFailed",
                        f"worker pid {pid} exited before it was ready, while {self.step(pid)}")
                return self.failure
        return None


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return read_file(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False
