"""The hand-off from the Engine thread to the GUI thread.

The engine puts :class:`~procviz.engine.events.EngineBatch` objects on a thread-safe queue. Here a
main-thread QTimer (about 30 Hz) takes whatever is waiting, folds it into the Timeline the
window shows with ``apply(batch, notify=False)``, and then tells the Timeline's subscribers once,
with the merged change. So the views redraw at most once per tick, however many events arrived:
one Qt signal per event froze the GUI for seconds at a million events.

Work per tick is bounded by a time budget: if the engine ever produces faster than the GUI can
fold, the rest waits for the next tick and the window stays responsive (the queue absorbs the
burst). Only the GUI thread runs any of this, so only the GUI thread writes the shown Timeline.

Once the run is ending (its STOPPING status applied: every task is done or cancelled, the workers
are being ended), the timer ticks every few milliseconds instead: the run's last batch and its end
are then shown as soon as they come, not up to a tick later (33 ms on average 16, and a second
tick when the engine's thread had not quite ended at the first) - on a 0.5 s run that wait was
the largest part of what the window added to it. A tick with nothing waiting costs microseconds.
"""

from __future__ import annotations

import queue
import time
from collections import deque

import numpy as np
import numpy.ma  # noqa: F401 - np.unique imports it on first use (~0.2 s): at start-up, not in a run's first ticks
from PySide6.QtCore import QObject, QTimer, Signal

from procviz.engine.config import RunConfig
from procviz.engine.events import EngineBatch, RunPhase, RunStatus
from procviz.engine.runner import Engine, RunResult
from procviz.engine.timeline import Timeline, TimelineChange

TICK_MS = 33
END_TICK_MS = 4  # the tick while the run is ending (see the module docstring)
TICK_BUDGET_S = 0.012
RATE_WINDOW_S = 1.0


def merge_changes(a: TimelineChange, b: TimelineChange) -> TimelineChange:
    """A change that says everything ``a`` or ``b`` says."""
    return TimelineChange(
        reset=a.reset or b.reset,
        lanes=a.lanes or b.lanes,
        tasks=a.tasks or b.tasks,
        intervals=a.intervals or b.intervals,
        resources=a.resources or b.resources,
        status=a.status or b.status,
    )


class EngineBridge(QObject):
    """Runs configs on an :class:`Engine` and feeds its events into ``timeline`` on the GUI thread.

    Signals: ``runStarted()``, ``statusChanged(RunStatus)``, ``runFinished(RunResult)`` (once per
    run, after the last batch is applied), ``ticked()`` after each tick that applied anything.
    """

    runStarted = Signal()
    statusChanged = Signal(object)
    runFinished = Signal(object)
    ticked = Signal()

    def __init__(self, timeline: Timeline, engine: Engine | None = None, parent: QObject | None = None,
                 tick_ms: int = TICK_MS, budget_s: float = TICK_BUDGET_S) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.engine = engine or Engine()
        self.budget_s = budget_s
        self.tick_ms = tick_ms
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self.tick)
        self._active = False
        self._finished_seen = False
        self._rate_samples: deque[tuple[float, int]] = deque()
        self.events_applied = 0
        self.ticks = 0
        # Event-to-screen latency probe (off by default; the benchmark turns it on).
        self.record_latency = False
        self.latencies_ns: list[np.ndarray] = []

    # ---- control --------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether a run is in progress or its last events are still being applied."""
        return self._active

    def start(self, config: RunConfig) -> None:
        """Start a run of ``config``; its first batch resets the timeline. RuntimeError if busy."""
        if self._active:
            raise RuntimeError("a run is already in progress")
        self._drop_stale()
        self.engine.start(config)
        self._active = True
        self._finished_seen = False
        self._rate_samples.clear()
        self.events_applied = 0
        self.latencies_ns = []
        self.timer.start(self.tick_ms)
        self.runStarted.emit()

    def request_stop(self) -> None:
        """Ask the run to stop without blocking: unfinished tasks arrive as cancelled, then it ends."""
        if self._active:
            self.engine.stop(0.0)

    def stop_and_wait(self, timeout_s: float = 5.0) -> RunResult | None:
        """Stop the run and wait for it (closing the window); applies what is left, returns the result."""
        if not self._active:
            return None
        self.engine.stop(timeout_s)
        deadline = time.monotonic() + 1.0
        while self._active and time.monotonic() < deadline:
            self.tick(budget_s=None)
            if self._active:
                time.sleep(0.01)
        self._end(self.engine.join(0))
        return self.engine.result

    def _drop_stale(self) -> None:
        # Batches of an earlier run that nobody applied must not leak into the next one.
        while True:
            try:
                self.engine.events.get_nowait()
            except queue.Empty:
                return

    # ---- the tick -------------------------------------------------------------------------------

    def tick(self, budget_s: float | None | bool = False) -> int:
        """Apply waiting batches (within the time budget), notify once; returns events applied.

        ``budget_s=None`` drains everything (shutdown); the default uses the bridge's budget.
        """
        budget = self.budget_s if budget_s is False else budget_s
        t_start = time.perf_counter()
        merged: TimelineChange | None = None
        applied_events = 0
        statuses: list[RunStatus] = []
        ends: list[np.ndarray] = []
        first = True
        # At least one batch per tick, however small the budget: the run always makes progress.
        while first or budget is None or time.perf_counter() - t_start < budget:
            first = False
            try:
                batch: EngineBatch = self.engine.events.get_nowait()
            except queue.Empty:
                break
            change = self.timeline.apply(batch, notify=False)
            merged = change if merged is None else merge_changes(merged, change)
            applied_events += batch.event_count()
            if self.record_latency and len(batch.ended):
                ends.append(batch.ended["end_ns"])
            if batch.status is not None:
                statuses.append(batch.status)
                if batch.status.phase == RunPhase.FINISHED:
                    self._finished_seen = True
                    break  # a run's last batch: whatever follows belongs to another run
        if merged is not None:
            self.timeline.notify(merged)
        self.ticks += 1
        if ends:
            done = time.monotonic_ns()
            self.latencies_ns.append(done - np.concatenate(ends))
        self.events_applied += applied_events
        self._rate_samples.append((time.monotonic(), applied_events))
        if self._active and any(status.phase >= RunPhase.STOPPING for status in statuses):
            self.timer.setInterval(min(END_TICK_MS, self.tick_ms))  # (the run's end is near)
        for status in statuses:
            self.statusChanged.emit(status)
        if merged is not None:
            self.ticked.emit()
        if self._active and (self._finished_seen or not self.engine.running):
            result = self.engine.join(0)
            if result is not None and (self._finished_seen or self.engine.events.empty()):
                self._end(result)
        return applied_events

    def _end(self, result: RunResult | None) -> None:
        if not self._active:
            return
        self._active = False
        self.timer.stop()
        self._rate_samples.clear()
        if result is not None:
            self.runFinished.emit(result)

    # ---- figures --------------------------------------------------------------------------------

    def event_rate(self) -> float:
        """Task events applied per second over the last second (0 when idle)."""
        now = time.monotonic()
        while self._rate_samples and now - self._rate_samples[0][0] > RATE_WINDOW_S:
            self._rate_samples.popleft()
        if not self._rate_samples:
            return 0.0
        span = max(now - self._rate_samples[0][0], self.timer.interval() / 1000.0)
        return sum(n for _, n in self._rate_samples) / span
