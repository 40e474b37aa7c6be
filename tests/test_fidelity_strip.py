"""The state strip draws proportions: a window 12 % on a CPU shows 12 % green, exact sums on hover."""

from __future__ import annotations

import numpy as np

from procviz.engine.events import INTERVAL_DTYPE, EngineBatch, LaneInfo, RunInfo, WorkerState
from procviz.engine.timeline import Timeline
from procviz.gui.gantt import layout
from procviz.gui.gantt.strip import LEVELS, StateStrip

MS = 1_000_000


def one_lane(rows: list[tuple[int, int, int, int, int]]) -> Timeline:
    """A timeline with lane 0's intervals given as (state, start ms, end ms, cpu ms, ready ms)."""
    tl = Timeline()
    iv = np.array([(0, s, a * MS, b * MS, c * MS, r * MS) for s, a, b, c, r in rows], INTERVAL_DTYPE)
    tl.apply(EngineBatch(run=RunInfo(0, 0, {}, "h", 1, True), lanes=(LaneInfo(0, 1, 1, "process", "w"),),
                         intervals=iv))
    return tl


def heights(strip: StateStrip, x0: float, x1: float, px: float) -> dict[WorkerState, float]:
    """Area of each state's rectangles / (strip height x view width)."""
    frame = strip.frame(x0, x1, px, range(1))
    return {s: float((a[:, 2] * a[:, 3]).sum()) / (layout.STRIP_HEIGHT * (x1 - x0)) for s, a in frame.xywh.items()}


def test_a_mostly_waiting_window_still_shows_its_cpu_share() -> None:
    # 100 ms: 12 ms on a CPU, 25 ms ready, 63 ms blocked (labelled waiting)
    strip = StateStrip(one_lane([(WorkerState.WAITING, 0, 100, 12, 25)]))
    area = heights(strip, 0.0, 0.1, 0.001)
    assert abs(area[WorkerState.RUNNING] - 2 / LEVELS) < 1e-9  # 12 % -> 2/16 of the height
    assert abs(area[WorkerState.READY] - 4 / LEVELS) < 1e-9  # 25 % -> 4/16
    assert abs(sum(area.values()) - 1.0) < 1e-9
    # running sits at the bottom of the strip, waiting at the top
    frame = strip.frame(0.0, 0.1, 0.001, range(1))
    bottom = layout.STRIP_TOP + layout.STRIP_HEIGHT
    run, wait = frame.xywh[WorkerState.RUNNING], frame.xywh[WorkerState.WAITING]
    assert np.allclose(run[:, 1] + run[:, 3], bottom) and np.allclose(wait[:, 1], layout.STRIP_TOP)


def test_zoomed_out_columns_average_and_equal_columns_merge() -> None:
    rows = [(WorkerState.RUNNING, 10 * i, 10 * i + 10, 10, 0) if i % 2
            else (WorkerState.READY, 10 * i, 10 * i + 10, 0, 10) for i in range(100)]
    strip = StateStrip(one_lane(rows))
    frame = strip.frame(0.0, 1.0, 0.1, range(1))  # 10 columns of 100 ms: half running, half ready
    assert len(frame.xywh[WorkerState.RUNNING]) == 1 and len(frame.xywh[WorkerState.READY]) == 1
    assert len(frame.xywh[WorkerState.WAITING]) == 0
    assert np.allclose(frame.xywh[WorkerState.RUNNING][:, 3], layout.STRIP_HEIGHT / 2)
    fine = strip.frame(0.0, 1.0, 0.001, range(1))  # 1 ms columns: the intervals themselves
    assert len(fine.xywh[WorkerState.RUNNING]) == 50 and len(fine.xywh[WorkerState.READY]) == 50


def test_tooltip_gives_exact_sums() -> None:
    strip = StateStrip(one_lane([(WorkerState.WAITING, 0, 100, 12, 25), (WorkerState.RUNNING, 100, 200, 90, 5)]))
    lines = strip.tooltip_lines("worker 0", 0, 0.05)
    text = "\n".join(lines)
    assert "12.00 ms (12%)" in text and "25.00 ms (25%)" in text and "63.00 ms (63%)" in text
    assert "mostly waiting" in text
    assert "90.00 ms (90%)" in "\n".join(strip.tooltip_lines("worker 0", 0, 0.15))
    assert strip.tooltip_lines("worker 0", 0, 0.5) == []
