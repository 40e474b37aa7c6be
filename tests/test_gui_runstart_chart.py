"""The chart at a run's start. Its first bars bring its lane labels, and the labels widen the
chart's left axes: the plots' new geometry is laid out in the same fold, so the chart is painted
once for it, not once with the old geometry and again after a layout pass (5-7 ms of the GUI
thread each). The chunks that group tasks (a Pool's runs of consecutive ids) are found without a
gather per task."""

from __future__ import annotations

import numpy as np
from gui_helpers import paint_counter, shown_chart
from synthetic import synth_batches

from procviz.engine.events import EngineBatch
from procviz.engine.timeline import Timeline
from procviz.gui.gantt.model import chunk_groups


def test_the_fold_that_widens_the_lane_axis_is_painted_once(qtbot) -> None:
    batches = synth_batches(n_tasks=400, n_lanes=3, batches=4)
    tl = Timeline()
    tl.apply(EngineBatch(run=batches[0].run))  # the run, no lane yet: the axes at their narrowest
    w = shown_chart(qtbot, tl)
    w.flush()
    qtbot.wait(50)
    narrow = w.lane_axis.width()
    counter = paint_counter()
    w.plot.viewport().installEventFilter(counter)
    for batch in batches:
        tl.apply(EngineBatch(lanes=batch.lanes, submitted=batch.submitted, started=batch.started,
                             ended=batch.ended, intervals=batch.intervals, now_ns=batch.now_ns))
    w.flush()
    qtbot.wait(100)  # every posted layout request and repaint is handled by now
    assert w.lane_axis.width() > narrow  # "worker 0 · pid ..." needs more room than no label
    assert w.plot.queue.getAxis("left").width() == w.lane_axis.width()
    assert counter.paints == 1


def general_chunk_groups(chunk: np.ndarray) -> np.ndarray:
    """chunk_groups the general way (a count per chunk, looked up per task)."""
    chunk = np.asarray(chunk, np.int64)
    sizes = np.bincount(np.maximum(chunk, 0)) if len(chunk) else np.zeros(0, np.int64)
    return np.where((chunk >= 0) & (sizes[np.maximum(chunk, 0)] > 1), chunk, -1) if len(chunk) else chunk


def test_chunk_groups_of_runs_of_ids_equal_the_general_way() -> None:
    rng = np.random.default_rng(7)
    for k in range(400):
        n = int(rng.integers(0, 80))
        made = (np.sort(rng.integers(0, 12, n)), np.repeat(np.arange(n), rng.integers(1, 4, n))[:n],
                rng.integers(-1, 6, n), np.sort(rng.integers(-1, 6, n)))[k % 4]
        chunk = np.asarray(made, np.int32)
        np.testing.assert_array_equal(chunk_groups(chunk), general_chunk_groups(chunk))
    pool = (np.arange(100_000) // 100).astype(np.int32)  # a Pool's map, chunksize 100
    np.testing.assert_array_equal(chunk_groups(pool), pool)
