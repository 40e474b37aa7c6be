"""Opening a big timeline file: indexed off the GUI thread, handed over intact, one writer per piece of state."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import cancel_file_read_soon, hold_reader_until, open_and_wait
from PySide6.QtCore import QTimer
from synthetic import finished_run

from procviz.engine.formats import read_timeline, write_timeline
from procviz.engine.timeline import Timeline
from procviz.gui.gantt.model import GanttModel
from procviz.gui.gantt.queue_plot import queue_steps

N_TASKS = 200_000
COLUMNS = Timeline.TASK_COLUMNS


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("load") / "big.json"
    write_timeline(finished_run(N_TASKS, lanes=6), path)
    return path


def count_ticks(enough: int) -> tuple[QTimer, list[int], threading.Event]:
    """A 10 ms timer counting its ticks, and an event set once there are ``enough``."""
    ticks = [0]
    turned = threading.Event()
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        ticks[0] += 1
        if ticks[0] >= enough:
            turned.set()

    timer.timeout.connect(tick)
    timer.start()
    return timer, ticks, turned


def test_the_chart_is_built_off_the_gui_thread_while_the_event_loop_turns(window, big_file, monkeypatch) -> None:
    rebuilt_on: list[threading.Thread] = []
    original = GanttModel._rebuild
    timer, ticks, turned = count_ticks(6)

    def recording(self: GanttModel) -> None:
        rebuilt_on.append(threading.current_thread())
        if threading.current_thread() is not threading.main_thread():
            # An indexing as slow as a big file's on a loaded machine: off the GUI thread it is
            # held until the loop has turned 6 times (not for 0.3 s, which a loaded machine could
            # fill with fewer turns); on the GUI thread it is not held, and the loop cannot turn.
            turned.wait(60)
        original(self)

    monkeypatch.setattr(GanttModel, "_rebuild", recording)
    assert window.open_file(big_file), window.errors
    timer.stop()
    assert window.timeline.n_tasks == N_TASKS
    window.gantt.flush()
    window.gantt.grab()  # the first paint after the load: nothing left to rebuild either
    assert rebuilt_on, "the chart's model was never built"
    assert all(t is not threading.main_thread() for t in rebuilt_on), "the GUI thread rebuilt the chart"
    assert ticks[0] > 5, "the event loop did not turn while the file was read and indexed"


def test_nothing_of_a_file_is_indexed_on_the_gui_thread(qtbot, window, big_file, monkeypatch) -> None:
    from procviz.engine.metrics import compute_metrics
    from procviz.gui import numbers_worker
    from procviz.gui.gantt.queue_steps import QueueSteps

    threads: dict[str, list[threading.Thread]] = {"queue": [], "metrics": []}
    insert = QueueSteps._insert  # (where events are added: a mere check for changes adds none)

    def queue_insert(self: QueueSteps, *args) -> None:
        threads["queue"].append(threading.current_thread())
        insert(self, *args)

    def metrics(*args, **kwargs):
        threads["metrics"].append(threading.current_thread())
        return compute_metrics(*args, **kwargs)

    monkeypatch.setattr(QueueSteps, "_insert", queue_insert)
    monkeypatch.setattr(numbers_worker, "compute_metrics", metrics)
    assert open_and_wait(qtbot, window, big_file), window.errors
    window.gantt.flush()
    window.gantt.grab()
    for what, seen in threads.items():
        assert seen, f"the {what} were never computed"
        assert all(t is not threading.main_thread() for t in seen), f"the GUI thread computed the {what}"
    assert window.gantt.plot.queue.peak > 0 and window.metrics.metrics.tasks == N_TASKS


def test_the_shown_chart_is_the_files_content(qtbot, window, big_file) -> None:
    assert open_and_wait(qtbot, window, big_file), window.errors
    expected = read_timeline(big_file)
    shown = window.timeline
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(shown, name), getattr(expected, name), err_msg=name)
    assert shown.lanes == expected.lanes and len(shown.intervals) == len(expected.intervals)
    # The model built on the reader thread paints what one built now from the shown Timeline would.
    window.gantt.flush()
    fresh = GanttModel(shown)
    fresh.sync()
    lo, hi = fresh.x_extent()
    for view in ((lo, hi, (hi - lo) / 900), (lo, lo + (hi - lo) / 50, (hi - lo) / 50 / 900)):
        a = window.gantt.model.frame(*view, range(fresh.lane_count))
        b = fresh.frame(*view, range(fresh.lane_count))
        for part in ("tasks", "intervals", "spans"):
            ra, rb = getattr(a, part), getattr(b, part)
            for col in ("x0", "x1", "lane", "code"):
                np.testing.assert_array_equal(getattr(ra, col), getattr(rb, col), err_msg=f"{part}.{col}")
    queue = window.gantt.plot.queue
    t, n = queue_steps(shown)
    assert queue.peak == n.max()
    x = queue.item.steps.x
    last = np.r_[x[1:] != x[:-1], True]
    np.testing.assert_array_equal(x[last], t[:-1])
    np.testing.assert_array_equal(queue.item.steps.y[last], n[:-1])
    assert window.metrics.metrics is not None and window.metrics.metrics.tasks == N_TASKS


def test_only_the_gui_thread_touches_the_shown_timeline(window, big_file) -> None:
    seen: set[int] = set()
    watched = set(COLUMNS) | {"intervals", "lanes", "run", "notify", "apply", "load_columns"}

    class Watched(Timeline):
        def __getattribute__(self, name: str) -> object:
            if name in watched:
                seen.add(threading.get_ident())
            return super().__getattribute__(name)

        def __setattr__(self, name: str, value: object) -> None:
            seen.add(threading.get_ident())
            super().__setattr__(name, value)

    shown = window.timeline
    shown.__class__ = Watched
    try:
        assert window.open_file(big_file), window.errors
        window.gantt.grab()
    finally:
        shown.__class__ = Timeline
    assert seen == {threading.main_thread().ident}


def test_cancel_while_indexing_leaves_the_chart_as_it_was(qtbot, window, big_file, monkeypatch) -> None:
    model, before = window.gantt.model, window.timeline.n_tasks
    hold_reader_until(monkeypatch, GanttModel, "_rebuild", cancel_file_read_soon(window, 50, 10))
    assert window.open_file(big_file) is False
    assert window.gantt.model is model and window.timeline.n_tasks == before
    assert window.errors == []
    # The window takes the next file as usual.
    assert window.open_file(big_file), window.errors
    assert window.timeline.n_tasks == N_TASKS


def test_a_run_after_an_opened_file_rebuilds_the_chart(window, big_file) -> None:
    from synthetic import synth_batches

    assert window.open_file(big_file), window.errors
    for batch in synth_batches(n_tasks=50, n_lanes=2):
        window.timeline.apply(batch)
    window.gantt.flush()
    assert window.gantt.model.lane_count == 2
    assert sum(s.n for s in window.gantt.model.tasks) == int(np.count_nonzero(window.timeline.start_ns >= 0))
