"""The observed Pool's maintenance thread sleeps while results wait to be read.

CPython's ``Pool`` maintenance thread also waits on the result pipe, so while a result sits
unread it wakes, checks every worker and waits again, at once: it spins until the result thread
reads. procviz's result thread shares the GIL with a busy engine thread and reads late; in a
1M-task run the spin cost the parent 0.10-0.17 s of CPU. The test slows the result thread's
reads on purpose and measures the maintenance thread's own CPU time from the kernel.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from procviz.engine.backends.pool_creation import ObservedPool
from procviz.engine.worker.process import register_observer

READ_DELAY_S = 0.05  # the result thread's pause before each read
TASKS = 24  # results that wait: ~1.2 s of slowed reads


class _Silent:
    def on_start(self, proc: Any) -> None: ...
    def on_terminate(self, proc: Any) -> None: ...
    def on_join(self, proc: Any) -> None: ...


class _SlowReader(ObservedPool):
    """An observed Pool whose result thread pauses before every read."""

    def _setup_queues(self) -> None:
        super()._setup_queues()  # type: ignore[misc]
        read = self._quick_get

        def slow_read() -> Any:
            time.sleep(READ_DELAY_S)
            return read()

        self._quick_get = slow_read


def _thread_cpu_s(native_id: int) -> float:
    """A thread's on-CPU time so far, from the kernel (schedstat's first field, ns)."""
    with open(f"/proc/self/task/{native_id}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def test_the_maintenance_thread_does_not_spin_while_results_wait() -> None:
    pool = _SlowReader(2, exit_sink_key=register_observer(_Silent()), start_method="fork",
                       cancelled=threading.Event(), created={})
    try:
        assert pool.map(abs, [-1]) == [1]  # workers up
        handler = pool._worker_handler.native_id  # type: ignore[attr-defined]
        before, t0 = _thread_cpu_s(handler), time.monotonic()
        assert pool.map(abs, range(-TASKS, 0), chunksize=1) == list(range(TASKS, 0, -1))
        spent, waited = _thread_cpu_s(handler) - before, time.monotonic() - t0
    finally:
        pool.close()
        pool.join()
    assert waited >= READ_DELAY_S * TASKS  # the results did wait
    # Spinning, it takes most of a core while they wait (0.5-1 s here); asleep, next to nothing.
    assert spent < 0.1 * waited, (spent, waited)
