"""The progress line above the chart: a bar of finished/total and the counts behind it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline, TimelineChange
from procviz.gui.panels.units import count


class ProgressPanel(QWidget):
    """Shows finished/total, running and failed counts, and tasks per second, from the Timeline."""

    def __init__(self, timeline: Timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(180)
        self.detail = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.detail, 2)
        self._unsubscribe = timeline.subscribe(self._on_change)
        self.refresh()

    def _on_change(self, change: TimelineChange) -> None:
        if change.tasks or change.status or change.reset:
            self.refresh()

    def tasks_per_second(self) -> float:
        """Finished tasks per second of run time so far (live edge, or the last end for a file)."""
        tl = self.timeline
        if tl.run is None:
            return 0.0
        elapsed_s = (tl.now_ns - tl.t0_ns) / 1e9
        return tl.finished_count() / elapsed_s if elapsed_s > 0 else 0.0

    def refresh(self) -> None:
        """Redraw from the Timeline as it is now."""
        tl = self.timeline
        n = tl.n_tasks
        if tl.run is None or n == 0:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
            self.bar.setFormat("no run yet")
            self.detail.setText("Pick a preset or fill the forms, then Run (Ctrl+R).")
            return
        counts = tl.state_counts()
        finished = tl.finished_count()
        self.bar.setRange(0, n)
        self.bar.setValue(finished)
        self.bar.setFormat(f"{count(finished)} / {count(n)} finished")
        bad = counts[TaskState.FAILED] + counts[TaskState.TIMEOUT]
        parts = [f"{count(counts[TaskState.RUNNING])} running", f"{count(counts[TaskState.QUEUED])} queued"]
        if bad:
            parts.append(f"{count(bad)} failed")
        if counts[TaskState.CANCELLED]:
            parts.append(f"{count(counts[TaskState.CANCELLED])} cancelled")
        parts.append(f"{self.tasks_per_second():,.1f} tasks/s")
        parts.append(f"{(tl.now_ns - tl.t0_ns) / 1e9:.1f} s")
        self.detail.setText(" · ".join(parts))
