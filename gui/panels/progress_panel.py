"""The progress line above the chart: a bar of the run's tasks, the counts behind it, elapsed time.

While a run is live the elapsed time ticks with the wall clock (the engine's time base,
``time.monotonic_ns``), not with task events, so a run of long tasks does not look frozen. When a
run has ended the bar says how it ended: done, failed and cancelled are counted apart, and the bar
fills with the tasks that completed, so a stopped run never shows a full bar.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from procviz.engine.events import RunPhase, TaskState
from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.file_limits import missing_records
from procviz.gui.panels.label_slot import LabelSlot
from procviz.gui.panels.subscription import subscribe_while_alive
from procviz.gui.panels.units import count


def elapsed_text(seconds: float) -> str:
    """"7.3 s", or "2 min 05 s" from a minute on."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def show_on_bar(bar: QProgressBar, maximum: int, value: int, text: str) -> None:
    """Show ``value`` of 0..``maximum`` with ``text`` on ``bar``: one paint in the window's next
    repaint pass if any of them changed, none if not.

    QProgressBar repaints itself at once, inside the call, when ``setValue`` moves the bar by a
    pixel or more or changes its text, and when ``setRange`` resets it (Qt's ``repaint()``, not
    ``update()``); its format then asks for another paint in the next pass: a refresh painted the
    bar twice, a run's start three times, each time outside the window's one repaint pass. While
    its updates are off, ``repaint()`` does nothing; turning them on asks for the one paint.
    """
    if (bar.minimum(), bar.maximum(), bar.value(), bar.format()) == (0, maximum, value, text):
        return
    bar.setUpdatesEnabled(False)
    try:
        bar.setRange(0, maximum)
        bar.setValue(value)
        bar.setFormat(text)
    finally:
        bar.setUpdatesEnabled(True)


class ProgressPanel(QWidget):
    """Shows the run's task counts and elapsed time, from the Timeline.

    ``auto_refresh``: refresh on every Timeline change (standalone use). The window turns it off
    and refreshes this panel together with the metrics and the table (see
    :class:`~procviz.gui.live_numbers.LiveNumbers`), so all three always show the same moment.
    """

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.auto_refresh = True
        self.live = False  # a run is going on: elapsed time follows the clock
        self.counts: dict[TaskState, int] = {}
        self._finished_before = 0  # tasks finished at the refresh before (see refresh: short tasks)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(180)
        self.detail = QLabel()
        # Its width is what the layout gives it, not its text's: a file's long note of what it lacks
        # made the window wider than the screen, and it stayed so (the note is in its tooltip too).
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.elapsed = QLabel()
        self.elapsed.setToolTip("Time since the run started")
        # Opaque (the window's colour), and the labels in slots: the elapsed time's tick (ten a
        # second while live) and the counts repaint their label, not the window below, and relay
        # out the window only when they need another width (see label_slot.py).
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.bar, 1)
        layout.addWidget(LabelSlot(self.detail), 2)
        layout.addWidget(LabelSlot(self.elapsed))
        self._unsubscribe = subscribe_while_alive(self, timeline, self._on_change)
        self.refresh()

    def _on_change(self, change: TimelineChange) -> None:
        if self.auto_refresh and (change.tasks or change.status or change.reset):
            self.refresh()

    def elapsed_s(self) -> float:
        """Seconds since the run's start: by the clock while live, else up to the run's last event."""
        tl = self.timeline
        if tl.run is None:
            return 0.0
        now = time.monotonic_ns() if self.live else tl.now_ns
        return max(now - tl.t0_ns, 0) / 1e9

    def tasks_per_second(self) -> float:
        """Tasks run to an end (done, failed, timed out) per second of run time so far. Cancelled
        ones never ran: a Stop that cancels a million tasks is not a million tasks a second."""
        elapsed = self.elapsed_s()
        ran = sum(self.counts.get(s, 0) for s in TaskState if s.ran)
        return ran / elapsed if elapsed > 0 else 0.0

    def tick(self) -> None:
        """Update the elapsed time only (a timer calls this while a run is live)."""
        self.elapsed.setText(elapsed_text(self.elapsed_s()) if self.timeline.run is not None else "")

    def ended(self) -> bool:
        """Whether the shown run is over (finished, stopped, or a file)."""
        status = self.timeline.status
        return not self.live and (status is None or status.phase == RunPhase.FINISHED)

    def await_counts(self) -> None:
        """Another run or file, counted with the other panels' numbers (gui/live_numbers.py):
        until then the bar shows none."""
        self.counts = {}
        self._finished_before = 0
        self.tick()
        show_on_bar(self.bar, 1, 0, "counting…" if self.timeline.run is not None else "no run yet")
        self.detail.setText("")

    def refresh(self, source: Timeline | None = None) -> None:
        """Redraw the counts from the Timeline as it is now, or from ``source``, a frozen copy of it
        (the moment the other panels show: gui/live_numbers.py)."""
        tl = source if source is not None else self.timeline
        self.counts = tl.state_counts() if tl.run is not None else {}
        self.tick()
        n = tl.n_tasks
        if tl.run is None or n == 0:
            show_on_bar(self.bar, 1, 0, "no run yet")
            self.detail.setText("Pick a preset or fill the forms, then Run (Ctrl+R).")
            return
        c = self.counts
        done, failed, timed_out = c[TaskState.DONE], c[TaskState.FAILED], c[TaskState.TIMEOUT]
        cancelled = c[TaskState.CANCELLED]
        finished = done + failed + timed_out + cancelled
        # Each outcome apart, as the metrics say them (a timeout is not a failure of the task's own).
        bad = [f"{count(k)} {word}" for k, word in ((failed, "failed"), (timed_out, "timed out")) if k]
        parts = []
        if (self.ended() and (finished < n or bad)) or cancelled:
            # How it ended; the bar fills only with what completed.
            outcome = [f"{count(done)} done", *bad]
            if cancelled:
                outcome.append(f"{count(cancelled)} cancelled")
            show_on_bar(self.bar, n, done, f"{' · '.join(outcome)} of {count(n)}")
        else:
            show_on_bar(self.bar, n, finished, f"{count(finished)} / {count(n)} finished")
            parts.extend(bad)
        if not self.ended() or c[TaskState.RUNNING] or c[TaskState.QUEUED]:
            running = f"{count(c[TaskState.RUNNING])} running"
            if self.live and not c[TaskState.RUNNING] and finished > self._finished_before:
                # Tasks under 0.2 ms report their start with their end (engine/worker/instrument.py):
                # "0 running" beside tasks ending by the thousand read as workers standing idle.
                running = "tasks too short to show as running"
            parts[:0] = [running, f"{count(c[TaskState.QUEUED])} queued"]
        self._finished_before = finished
        parts.append(f"{self.tasks_per_second():,.1f} tasks/s")
        missing = missing_records(tl) if self.ended() else []
        if missing:  # (a file's, or a live run's where no task ran to its end: no on-CPU times)
            parts.append("this timeline has " + ", ".join(missing))
        self.detail.setText(" · ".join(parts))
        self.detail.setToolTip("\n".join(missing))
