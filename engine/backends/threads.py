"""ThreadPoolExecutor: lanes are threads of the engine's own process, and the GIL shows as waiting.

Each pool thread announces itself from the executor's initializer, so it gets its own lane (kind
"thread", same PID). A thread holding no GIL is blocked, off the CPU, so for CPU-bound tasks the
measured split shows the truth the tutorials state: threads take turns, they do not run Python in
parallel. Done-callbacks run on the worker thread that completed the future, so their bars land on
that thread's lane.

What threads cannot do, said up front in config validation: a timeout cannot stop a thread (and
a hung task would block ``shutdown(wait=True)`` forever), and a task that kills its process kills
the engine's own process. On Stop the pending futures are cancelled and the run ends; a task
still running keeps its thread busy until it returns.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from typing import Any

import procviz.engine.worker.instrument as instrument
from procviz.engine.backends.executor import FuturesBackend
from procviz.engine.events import LaneKind
from procviz.engine.worker.instrument import announce_thread, connect_threads, recorder


def attach_parent(address: str) -> None:
    """Record from threads of this (the engine's) process to ``address``.

    A recorder left from an earlier run still sends to that run's (closed) address: it is
    closed and replaced first.
    """
    rec = recorder()
    if rec is not None and rec.pid == os.getpid() and rec._sender.address != address:  # noqa: SLF001
        detach_parent()
    connect_threads(address)


def detach_parent() -> None:
    """Flush and close this process's recorder, so the next run starts from a clean slate."""
    disconnect = getattr(instrument, "disconnect_threads", None)
    if disconnect is not None:
        disconnect()
        return
    rec = recorder()
    if rec is not None and rec.pid == os.getpid():
        rec.close()
        # Until instrument offers disconnect_threads(): reset its module state by hand.
        instrument._recorder = None  # noqa: SLF001


class _CloseWithThread:
    """Closes a thread's schedstat descriptor when the thread ends (its thread-local goes)."""

    __slots__ = ("reader",)

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def __del__(self) -> None:
        self.reader.close()


_lane_end = threading.local()


def announce_pool_thread() -> None:
    """ThreadPoolExecutor initializer: give this thread its own lane, and free its descriptor with it."""
    announce_thread(LaneKind.THREAD, threading.current_thread().name)
    _lane_end.closer = _CloseWithThread(instrument._reader())  # noqa: SLF001 - the descriptor announce opened


class ThreadPoolExecutorBackend(FuturesBackend):
    """``ThreadPoolExecutor(max_workers, initializer=...)`` in the engine's process, measured."""

    worker_kind = LaneKind.THREAD

    def make_executor(self) -> cf.Executor:
        """Connect this process's recorder, then create the pool (threads start on demand)."""
        attach_parent(self.address)
        return cf.ThreadPoolExecutor(self.config.workers, thread_name_prefix="ThreadPoolExecutor",
                                     initializer=announce_pool_thread)

    def shutdown(self, graceful: bool) -> None:
        """Graceful: wait for the threads; otherwise cancel what has not started (threads cannot be killed)."""
        try:
            if self.executor is not None:
                self.executor.shutdown(wait=graceful, cancel_futures=not graceful)
        finally:
            detach_parent()

    def worker_pids(self) -> list[int]:
        """None: the workers are threads of this process, which no sweep may kill."""
        return []


def abandon_threads(native_ids: set[int]) -> list[str]:
    """Let this process exit although the threads ``native_ids`` never return (a hung task).

    A thread cannot be killed. Left alone, a hung ThreadPoolExecutor thread blocks the
    interpreter's exit forever twice over: ``concurrent.futures`` joins its threads at exit, and
    ``threading`` waits for every non-daemon thread. Both lists are private (stable since 3.9):
    the thread is taken off them, so the program ends while the thread still runs, as a daemon
    thread would. Returns the names of the threads abandoned.
    """
    import concurrent.futures.thread as cft

    names = []
    for thread in threading.enumerate():
        if thread.native_id not in native_ids:
            continue
        getattr(cft, "_threads_queues", {}).pop(thread, None)
        lock = getattr(thread, "_tstate_lock", None)
        shutdown_locks = getattr(threading, "_shutdown_locks", None)
        if lock is not None and shutdown_locks is not None:
            with threading._shutdown_locks_lock:  # type: ignore[attr-defined]
                shutdown_locks.discard(lock)
        names.append(thread.name)
    return names

