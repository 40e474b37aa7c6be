"""The chart folds a big change in slices (a pass of the event loop each), and what it shows at the
end is what one whole fold shows: the bars (GanttModel.sync with a limit), the ready queue
(QueuePlot.fold, then refresh), and the widget's paced fold, whose view moves once, at the end."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from gui_helpers import shown_chart  # noqa: E402
from synthetic import synth_timeline  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.gantt import GanttWidget  # noqa: E402
from procviz.gui.gantt import widget as widget_module  # noqa: E402
from procviz.gui.gantt.model import GanttModel  # noqa: E402
from procviz.gui.gantt.queue_steps import QueueSteps  # noqa: E402

TASK_COLUMNS = ("state", "start_ns", "end_ns", "submitted_ns")


def staged(n_tasks: int = 3000, seed: int = 3) -> tuple[Timeline, dict[str, np.ndarray]]:
    """A finished timeline with its tasks put back to "submitted, not started", and its final task
    columns. Each task was submitted up to 0.2 s before it started: the queue goes up and down."""
    tl = synth_timeline(n_tasks=n_tasks, n_lanes=3, seed=seed)
    started = tl.start_ns >= 0
    wait = np.random.default_rng(seed).integers(0, 200_000_000, n_tasks)
    tl.submitted_ns[started] = np.maximum(tl.start_ns - wait, tl.t0_ns)[started]
    final = {name: getattr(tl, name).copy() for name in TASK_COLUMNS}
    tl.state[:] = TaskState.QUEUED
    tl.start_ns[:] = tl.end_ns[:] = -1
    return tl, final


def finish(tl: Timeline, final: dict[str, np.ndarray], ids: np.ndarray | slice = slice(None)) -> None:
    for name, column in final.items():
        getattr(tl, name)[ids] = column[ids]
    tl.touch_tasks(np.arange(tl.n_tasks)[ids])  # (as the Timeline's own writes do: the folds read the stamps)
    tl.version += 1  # (as notify() does)


def bars(model: GanttModel) -> list[tuple[np.ndarray, ...]]:
    return [(s.x0.copy(), s.x1.copy(), s.rank.copy(), s.key.copy()) for s in model.tasks]


def test_the_bars_folded_in_parts_equal_them_folded_at_once() -> None:
    tl, final = staged()
    model = GanttModel(tl)
    model.sync()
    finish(tl, final, slice(0, 1000))  # some bars drawn before the big change
    model.sync()
    finish(tl, final)
    calls = 0
    while True:
        model.sync(limit=300)
        calls += 1
        if not model.more:
            break
    assert calls == 7  # 2000 tasks changed, 300 at a time
    whole = GanttModel(tl)
    whole.sync()
    for got, want in zip(bars(model), bars(whole), strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not model.sync(limit=300) and not model.more


def test_a_part_leaves_the_rest_for_the_next_sync_even_on_an_unchanged_version() -> None:
    tl, final = staged(n_tasks=500)
    model = GanttModel(tl)
    model.sync()
    finish(tl, final)
    version = tl.version  # (and it stays so between the calls)
    model.sync(limit=100)
    assert model.more
    model.sync(limit=1000)  # same version: the rest is folded all the same
    assert not model.more and tl.version == version
    assert sum(s.n for s in model.tasks) == int((final["start_ns"] >= 0).sum())


def test_the_queue_folded_in_parts_then_drawn_equals_it_drawn_at_once(qtbot) -> None:
    tl, final = staged()
    chart = GanttWidget(Timeline())  # a real queue plot, x-linked to a real view box
    qtbot.addWidget(chart)
    plot = chart.plot.queue
    started = np.flatnonzero(final["start_ns"] >= 0)
    finish(tl, final, started[len(started) // 2 :])  # the later half drawn first: the parts land among it
    plot.refresh(tl, force=True)
    end_x = plot.item.steps.end_x
    px = end_x / 700
    plot.item.steps.columns(0.0, end_x, px)  # levels cached: a part the drawing misses would stay stale
    plot.item.marks.columns(0.0, end_x, px)
    finish(tl, final)
    parts = 0
    while plot.fold(tl, 250):
        parts += 1
    assert parts >= 4
    plot.refresh(tl, force=True)
    fresh = GanttWidget(Timeline())
    qtbot.addWidget(fresh)
    fresh.plot.queue.refresh(tl, force=True)
    for name in ("steps", "marks"):
        got = getattr(plot.item, name).columns(0.0, end_x, px)
        want = getattr(fresh.plot.queue.item, name).columns(0.0, end_x, px)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_paced_fold_takes_a_slice_a_pass_and_moves_the_view_once(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(widget_module, "FOLD_SLICE", 200)
    monkeypatch.setattr(widget_module, "MAX_SLICES", 10**9)
    tl, final = staged(n_tasks=2000)
    w = shown_chart(qtbot, tl, 900, 500)
    w.flush()
    shown = w._flushed_version  # noqa: SLF001 - what the view was last updated with
    finish(tl, final)
    w._paced_fold()  # noqa: SLF001 - the paced timer's slot
    assert w.model.more  # 2000 changed tasks, 200 this pass
    assert w._timer.isActive() and w._timer.interval() == 0  # noqa: SLF001 - the rest in the next passes
    assert w._flushed_version == shown  # noqa: SLF001 - the view waits for the whole fold
    passes = 1
    while w._timer.isActive():  # noqa: SLF001 - the next passes, by hand
        folded = w.model.version
        w._paced_fold()  # noqa: SLF001
        passes += 1
        if w._flushed_version != shown:  # noqa: SLF001 - the view moved: in a pass that folded nothing
            assert w.model.version == folded
            break
    assert w._flushed_version != shown and not w._timer.isActive()  # noqa: SLF001
    assert passes >= 2000 // 200 + 1
    whole = GanttModel(tl)
    whole.sync()
    for got, want in zip(bars(w.model), bars(whole), strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    queue = QueueSteps()
    queue.update(tl)
    np.testing.assert_array_equal(w.plot.queue.steps.x, queue.x)
    np.testing.assert_array_equal(w.plot.queue.steps.y, queue.y)


def test_a_rebuild_is_a_pass_of_its_own_and_the_queue_follows(qtbot) -> None:
    tl, final = staged(n_tasks=500)
    finish(tl, final)
    w = GanttWidget(tl)  # its default size
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.flush()
    other, _ = staged(n_tasks=400, seed=5)
    tl.begin(other.run)  # a new run on the shown timeline (new columns): its first fold rebuilds every bar
    w.model.invalidate(reset=True)
    w._paced_fold()  # noqa: SLF001 - the paced timer's slot
    assert w.model.rebuilt and w._timer.isActive() and not w._view_due  # noqa: SLF001 - the queue: next pass
    assert w.plot.queue.steps._columns is not tl.state  # noqa: SLF001 - not folded in this pass
    qtbot.waitUntil(lambda: not w._timer.isActive(), timeout=10_000)  # noqa: SLF001
    assert w.plot.queue.steps._columns is tl.state  # noqa: SLF001
