"""The run's figures computed off the GUI thread, from a frozen copy of the shown Timeline.

:func:`~procviz.engine.metrics.compute_metrics` costs tens of milliseconds at 100k tasks and more
at a million; on the GUI thread it froze the window that long at every refresh of a live run.
Here the GUI thread only takes a frozen copy of the Timeline (:class:`FrozenCopy`: the blocks of task
rows written since the last copy are copied into a private buffer, the append-only tables are
shared up to their current length) and hands it to a worker thread (:class:`NumbersWorker`),
whose signal brings the figures back to the GUI thread. The copy is then the one moment that
every number on screen shows (see :mod:`procviz.gui.live_numbers`).

One job at a time: the next copy is taken only after the last job's result arrived, so the
worker never reads a buffer the GUI thread writes.
"""

from __future__ import annotations

import copy
import functools
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from procviz.engine.metrics import Metrics, SerialBaseline, compute_metrics, serial_baseline_of
from procviz.engine.timeline import TASK_BLOCK, Timeline
from procviz.engine.written_blocks import written_since
from procviz.gui.exit_guard import end_at_exit

# The task columns a run writes into; chunk and cost_ms are the run's own (read-only) data.
log = logging.getLogger(__name__)
MAX_PROBLEM = 300  # characters of a failure's text shown in the metrics panel

MUTABLE_COLUMNS = ("submitted_ns", "start_ns", "end_ns", "cpu_ns", "ready_ns", "lane", "state")
APPEND_ONLY = ("intervals", "resources", "spans", "machine")


class FrozenCopy:
    """A Timeline as it was at :meth:`take`, in one buffer that later takes refresh block by block."""

    def __init__(self) -> None:
        self._copy: Timeline | None = None
        self._columns: np.ndarray | None = None  # the state column the buffer was copied from
        self._stamps = np.zeros(0, np.int64)  # the Timeline's block stamps at the last take

    def take(self, tl: Timeline) -> Timeline:
        """The frozen copy of ``tl`` now (valid until the next take; the GUI thread calls this).

        The Timeline notes which blocks of task ids it wrote (:attr:`Timeline.block_stamp`: every
        write of a task column does), so only the blocks written since the last take are copied,
        each as a slice of every column (a live run writes a few blocks at its front between two
        takes; comparing the columns row by row cost 1-2 ms a take at 100k tasks), and noted with
        ``touch_tasks`` so that the figures kept per block of tasks on the copy
        (engine/task_sums.py) are summed again for those blocks only.
        """
        frozen = self._copy
        if frozen is None or self._columns is not tl.state or tl.run is None:  # another run or file
            frozen = Timeline()
            submitted = tl.submitted_part(slice(None))  # (a temporary: the shown column may be one number)
            copies = {name: (submitted if name == "submitted_ns" else getattr(tl, name)).copy()
                      for name in MUTABLE_COLUMNS}
            if tl.run is not None:  # its columns are these copies: none is made only to be replaced
                frozen.begin(tl.run, given={**copies, "chunk": tl.chunk, "cost_ms": tl.cost_ms})
            else:
                for name, column in copies.items():
                    setattr(frozen, name, column)
            frozen.touch_tasks()
            self._columns = tl.state
        else:
            for lo, hi in written_since(self._stamps, tl):
                part = slice(lo, hi)
                for name in MUTABLE_COLUMNS:
                    source = tl.submitted_part(part) if name == "submitted_ns" else getattr(tl, name)[part]
                    getattr(frozen, name)[part] = source
                frozen.touch_tasks(np.arange(lo, hi, TASK_BLOCK))  # (an id a block: those blocks)
        self._stamps = tl.block_stamp.copy()
        frozen.chunk, frozen.cost_ms = tl.chunk, tl.cost_ms
        frozen.run, frozen.status, frozen.now_ns = tl.run, tl.status, tl.now_ns
        frozen.lanes, frozen.span_labels = list(tl.lanes), list(tl.span_labels)
        frozen.texts = tl.texts  # read on the GUI thread only (the figures do not use texts)
        for name in APPEND_ONLY:  # rows up to the current length never change: share them
            setattr(frozen, name, copy.copy(getattr(tl, name)))
        self._copy = frozen
        return frozen

    def forget(self) -> None:
        """Drop the buffer (the next take copies everything)."""
        self._copy = self._columns = None


@dataclass(frozen=True, slots=True)
class NumbersJob:
    """What the worker computes from: a frozen copy, the serial baseline, and which columns it came from."""

    frozen: Timeline
    baseline: SerialBaseline | None
    columns: np.ndarray  # the shown Timeline's state column at the take (identity: which run/file)
    final: bool  # the run had ended: the figures are its last


@dataclass(frozen=True, slots=True)
class NumbersResult:
    """The figures of a job (None when they could not be computed: ``problem`` says why), the
    baseline after it, and the worker's CPU time for it."""

    job: NumbersJob
    metrics: Metrics | None
    baseline: SerialBaseline | None
    cpu_s: float
    problem: str = ""


def compute(job: NumbersJob) -> NumbersResult:
    """The figures of ``job`` (runs on the worker thread; pure numpy over the frozen copy)."""
    started = time.thread_time()
    metrics = compute_metrics(job.frozen, job.baseline)
    baseline = job.baseline
    if job.frozen.status is not None and job.frozen.status.outcome:
        baseline = serial_baseline_of(job.frozen) or baseline
    return NumbersResult(job, metrics, baseline, time.thread_time() - started)


class _Emitter(QObject):
    """Carries results to the GUI thread (a queued connection: it lives there, the worker emits).

    It has no parent, and the worker thread holds it: a window closed while a job runs deletes the
    receiver (Qt then drops the queued call), never the object that emits."""

    computed = Signal(object)


class NumbersWorker:
    """A daemon thread computing :class:`NumbersJob` s one at a time; results arrive by ``computed``.

    The thread ends on :meth:`close`, and at the interpreter's exit at the latest, its job in hand
    done first (:mod:`procviz.gui.exit_guard`: emitting while Python tears PySide down crashes)."""

    def __init__(self) -> None:
        self.emitter = _Emitter()
        self.computed = self.emitter.computed
        self._jobs: queue.SimpleQueue[NumbersJob | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, args=(self._jobs, self.emitter),
                                       name="procviz-numbers", daemon=True)
        self.thread.start()
        end_at_exit(self.thread, functools.partial(self._jobs.put, None))

    def submit(self, job: NumbersJob) -> None:
        """Compute ``job`` on the worker thread (call from the GUI thread)."""
        self._jobs.put(job)

    def close(self, wait_s: float = 0.0) -> None:
        """Let the thread end after the job in hand (it computes nothing more); wait up to
        ``wait_s`` for it to end."""
        self._jobs.put(None)
        if wait_s > 0:
            self.thread.join(wait_s)

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[NumbersJob | None], emitter: _Emitter) -> None:
        while (job := jobs.get()) is not None:
            started = time.thread_time()
            try:
                result = compute(job)
            except Exception as exc:  # noqa: BLE001 - a figure that cannot be computed must not end the thread
                log.debug("figures not computed", exc_info=True)
                # Its cost is kept: the next refresh waits for it as after figures that came (at
                # 0 s, a run whose figures take 0.3 s then fail would be refreshed 4 times a second).
                problem = f"{type(exc).__name__}: {exc}"
                result = NumbersResult(job, None, job.baseline, time.thread_time() - started,
                                       problem if len(problem) <= MAX_PROBLEM else problem[:MAX_PROBLEM - 1] + "…")
            try:
                emitter.computed.emit(result)
            except RuntimeError:  # the application is being torn down: nobody to tell
                return
