"""The window's numbers are computed off the GUI thread from a frozen copy; a run starts without copying."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
from gui_helpers import run_and_wait
from synthetic import finished_run, synth_batches

from procviz.engine.config import parse_config
from procviz.engine.metrics import compute_metrics
from procviz.engine.timeline import Timeline
from procviz.gui import numbers_worker
from procviz.gui.numbers_worker import MUTABLE_COLUMNS, FrozenCopy
from procviz.gui.panels import metrics_panel
from procviz.gui.timeline_io import adopt_into


def record_threads(monkeypatch) -> list[threading.Thread]:
    """Every thread compute_metrics runs on from the window's modules."""
    seen: list[threading.Thread] = []

    def recording(*args, **kwargs):
        seen.append(threading.current_thread())
        return compute_metrics(*args, **kwargs)

    monkeypatch.setattr(numbers_worker, "compute_metrics", recording)
    monkeypatch.setattr(metrics_panel, "compute_metrics", recording)
    return seen


def test_a_live_run_never_computes_metrics_on_the_gui_thread(qtbot, window, monkeypatch) -> None:
    seen = record_threads(monkeypatch)
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 40, "duration_ms": 20}}))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed"
    assert seen, "the figures were never computed"
    assert all(t is not threading.main_thread() for t in seen), "compute_metrics ran on the GUI thread"
    # ... and what is shown is the run's final figures, from the shown Timeline.
    assert window.metrics.metrics == compute_metrics(window.timeline)
    assert window.progress.counts == window.timeline.state_counts()


def test_starting_a_run_keeps_the_shown_timeline_aside_without_copying_it(qtbot, window) -> None:
    shown = finished_run(5_000, lanes=3)
    columns = {name: getattr(shown, name) for name in Timeline.TASK_COLUMNS}
    adopt_into(window.timeline, shown)
    window.form.set_value(parse_config({"workers": 1, "workload": {"kind": "sleep", "count": 2, "duration_ms": 1}}))
    assert window.start_run()
    kept = window._previous
    assert kept is not None
    for name, column in columns.items():
        assert getattr(kept, name) is column, f"{name} was copied"
    qtbot.waitUntil(lambda: not window.running, timeout=90_000)
    # The run replaced the shown columns with its own: the kept ones were never written.
    assert window.timeline.n_tasks == 2
    for name, column in columns.items():
        assert getattr(window.timeline, name) is not column, name


def test_the_frozen_copy_follows_the_timeline_by_the_rows_that_changed() -> None:
    batches = synth_batches(n_tasks=3_000, n_lanes=3, seed=4, batches=5)
    first = batches[0]
    tl = Timeline()
    tl.apply(first.__class__(run=first.run, lanes=first.lanes, submitted=first.submitted))
    frozen_copy = FrozenCopy()
    frozen = frozen_copy.take(tl)
    state_before = frozen.state.copy()
    for batch in batches:
        tl.apply(batch.__class__(started=batch.started, ended=batch.ended, intervals=batch.intervals,
                                 now_ns=batch.now_ns))
    np.testing.assert_array_equal(frozen.state, state_before)  # frozen until the next take
    again = frozen_copy.take(tl)
    assert again is frozen  # one buffer, refreshed in place
    for name in MUTABLE_COLUMNS:
        np.testing.assert_array_equal(getattr(again, name), getattr(tl, name), err_msg=name)
        assert getattr(again, name) is not getattr(tl, name)
    assert len(again.intervals) == len(tl.intervals)
    assert compute_metrics(again) == compute_metrics(tl)


def test_closing_the_worker_with_a_wait_ends_its_thread(qtbot) -> None:
    """The app closes its numbers worker before Python tears Qt down: no thread left computing."""
    worker = numbers_worker.NumbersWorker()
    worker.close(wait_s=30.0)
    assert not worker.thread.is_alive()


EXIT_MID_JOB = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from procviz.gui import numbers_worker

marker = Path(sys.argv[1])

def slow(job):  # a job still computing when the program ends
    time.sleep(0.5)
    marker.write_text("computed")
    return numbers_worker.NumbersResult(job, None, None, 0.0)

numbers_worker.compute = slow
app = QCoreApplication([])
worker = numbers_worker.NumbersWorker()
worker.computed.connect(lambda result: None)
worker.submit("a job")
time.sleep(0.1)
print("exiting", flush=True)
"""


def test_a_job_in_hand_is_finished_before_the_interpreter_tears_qt_down(tmp_path) -> None:
    """A window that quits while its figures are computed (never closed by the app's exit path) must
    not leave the numbers thread running through the interpreter's teardown: emitting into a
    half-finalized PySide crashed the process at exit (1 run in 40 of a benchmark's window)."""
    marker = tmp_path / "computed"
    proc = subprocess.run([sys.executable, "-c", EXIT_MID_JOB, str(marker)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exiting" in proc.stdout
    assert marker.read_text() == "computed"  # the thread finished its job before the exit ended it


def test_a_run_shows_nothing_of_the_previous_one_from_the_moment_run_is_pressed(qtbot, window) -> None:
    # A thread pool's first batch can come seconds after Run (its tasks hold the GIL while the
    # engine describes the run): the previous run's bars stood under "starting…" until then.
    shown = finished_run(2_000, lanes=2)
    adopt_into(window.timeline, shown)
    window.gantt.flush()
    assert window.gantt.model.lane_count == 2
    window.form.set_value(parse_config({"workers": 1, "workload": {"kind": "sleep", "count": 2, "duration_ms": 1}}))
    assert window.start_run()
    # Before the event loop ran once (no batch of the run applied yet):
    assert window.timeline.run is None and window.timeline.n_tasks == 0 and not window.timeline.lanes
    window.gantt.flush()
    assert window.gantt.model.lane_count == 0
    assert window._previous is not None and window._previous.n_tasks == 2_000  # kept aside, put back on a failure
    qtbot.waitUntil(lambda: not window.running, timeout=90_000)
    assert window.timeline.n_tasks == 2
