"""The progress bar of ``procviz run``, drawn by rich: one line that fits the terminal, with rate and ETA.

Shown only when both stdout and stderr are terminals: piped into a file or another program, a
run prints its summary and nothing else. The bar goes to stderr so the summary on stdout stays
clean. rich is imported only when a bar is actually drawn.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

# The wire's TaskState is the engine's (events re-exports it) without importing numpy: whether to
# draw a bar is decided before the engine is imported.
from procviz.engine.worker.wire import TaskState

if TYPE_CHECKING:
    from procviz.engine.timeline import Timeline

REFRESH_PER_S = 8
FULL_WIDTH = 72  # columns from which the bar also shows running/failed counts
RATE_WIDTH = 50  # columns from which it shows the rate


def wanted(quiet: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Whether to draw a bar: not ``--quiet`` and both streams are terminals."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    return not quiet and _isatty(out) and _isatty(err)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def detail(timeline: Timeline) -> str:
    """The short counts next to the bar: running and failed tasks."""
    counts = timeline.state_counts()
    failed = counts[TaskState.FAILED] + counts[TaskState.TIMEOUT]
    return f"{counts[TaskState.RUNNING]} running" + (f", {failed} failed" if failed else "")


class RunProgress:
    """A rich progress bar fed from the live Timeline; does nothing when not :func:`wanted`."""

    def __init__(self, enabled: bool, console: Any = None) -> None:
        self.enabled = enabled
        self._console = console
        self._progress: Any = None
        self._task: Any = None
        self._t0 = 0.0
        self._done_at = 0.0

    def show(self, timeline: Timeline) -> None:
        """Bring the bar up to date (creates it once the run knows its task count)."""
        if not self.enabled or timeline.run is None:
            return
        if self._progress is None:
            self._start(timeline.run.n_tasks)
        done = timeline.finished_count()
        if done < timeline.run.n_tasks or not self._done_at:  # the rate stops with the last task
            self._done_at = time.monotonic()
        rate = timeline.ran_count() / max(self._done_at - self._t0, 1e-9)  # cancelled tasks never ran
        self._progress.update(self._task, completed=done, detail=detail(timeline), rate=f"{rate:.1f} tasks/s")

    def close(self, timeline: Timeline) -> None:
        """Draw the final state and leave the bar's last line on the terminal."""
        if self._progress is None:
            return
        self.show(timeline)
        self._progress.stop()
        self._progress = None

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = self._console or Console(file=sys.stderr)
        # The bar takes what the text leaves of the width; on a narrow terminal the text gives up
        # the counts first, then the rate, so what stays is never cut off mid-number.
        columns: list[Any] = [BarColumn(bar_width=None), MofNCompleteColumn()]
        if console.width >= FULL_WIDTH:
            columns.append(TextColumn("{task.fields[detail]}"))
        if console.width >= RATE_WIDTH:
            columns += [TextColumn("{task.fields[rate]}"), TextColumn("ETA")]
        columns.append(TimeRemainingColumn(compact=True))
        self._progress = Progress(*columns, console=console, refresh_per_second=REFRESH_PER_S, expand=True)
        self._task = self._progress.add_task("run", total=total, detail="", rate="")
        self._progress.start()
        self._t0 = time.monotonic()
