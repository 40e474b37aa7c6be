"""The child side of a scenario: how a role process starts, works, reports and (for daemons) ends.

A role process is a procviz worker with a named lane; its role function runs as one measured
task (its return value, an :class:`Outcome`, becomes the task's result text). Daemon roles mirror
``Process(daemon=True)``: when the main program ends they are terminated with SIGTERM, which
inside :func:`until_main_ends` ends their loop so they can report what they did, and then the
process dies by that SIGTERM, so its exit code says what happened to it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from procviz.engine.worker.child import child_init
from procviz.engine.worker.instrument import TaskItem, recorder, run_task
from procviz.engine.worker.workloads import resolve

MAIN_TASK = 0  # the scenario's main program: task 0, on a thread of the engine's process


class StartGate:
    """Roles say they are ready, then wait until the main program opens the gate (all start together)."""

    def __init__(self, ctx: Any) -> None:
        from procviz.engine.worker.primitives import Event

        self.ready = ctx.Semaphore(0)
        self.open = Event(ctx, label="gate.wait")

    def arrive(self) -> None:
        """Role side: say ready and wait for the gate."""
        self.ready.release()
        self.open.wait()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a role or main program reports; its repr is the text shown as the task's result."""

    text: str

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Work:
    """The built-in work a role does per step: ``module:function`` taking milliseconds."""

    function: str
    ms: float

    def __call__(self, factor: float = 1.0) -> None:
        """Do one step (``factor`` times as long)."""
        resolve(self.function)(self.ms * factor)


class MainProgramEnded(BaseException):
    """Raised in a daemon role by the SIGTERM that ends it with the main program."""


_ended = threading.Event()


def _raise_main_ended(signum: int, frame: Any) -> None:
    _ended.set()
    raise MainProgramEnded()


@contextmanager
def until_main_ends() -> Iterator[threading.Event]:
    """Run the body until the main program ends this daemon (the SIGTERM ends the body, not the process)."""
    previous = signal.signal(signal.SIGTERM, _raise_main_ended)
    try:
        yield _ended
    except MainProgramEnded:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def role_main(address: str, name: str, function: str, item: TaskItem) -> None:
    """Entry point of a role process: announce the lane, run the role ``function`` measured, exit."""
    child_init(address, name)
    run_task(function, True, item)
    if _ended.is_set():
        # A daemon ended with the main program: die by that SIGTERM, as multiprocessing does to
        # daemons, once the role's end and result are sent.
        rec = recorder()
        if rec is not None:
            rec.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
