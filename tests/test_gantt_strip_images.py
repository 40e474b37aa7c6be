"""On screen the state strip is one picture per lane; it shows exactly what the strip's rectangles (exports) show."""

from __future__ import annotations

import numpy as np
from synthetic import synth_timeline

from procviz.gui.gantt import layout
from procviz.gui.gantt.model import GanttModel
from procviz.gui.gantt.strip import LEVELS, STACK


def rasterised(xywh: np.ndarray, lane: int, x0: float, step: float, ncol: int) -> np.ndarray:
    """Which (level row, column) cells the rectangles of one lane cover."""
    cells = np.zeros((LEVELS, ncol), bool)
    mine = (xywh[:, 1] >= lane) & (xywh[:, 1] < lane + 1)
    for x, y, w, h in xywh[mine]:
        # (the lane's last column may be part of a pixel: the picture draws it whole)
        c0, c1 = int(round((x - x0) / step)), int(np.ceil((x + w - x0) / step - 1e-6))
        top = int(round((y - lane - layout.STRIP_TOP) / layout.STRIP_HEIGHT * LEVELS))
        rows = int(round(h / layout.STRIP_HEIGHT * LEVELS))
        cells[top:top + rows, c0:c1] = True
    return cells


def test_the_screen_strip_is_a_picture_per_lane_with_the_rectangles_pixels() -> None:
    model = GanttModel(synth_timeline(n_tasks=4000, n_lanes=3, mean_ms=2.0, sample_ms=10.0))
    model.sync()
    lo, hi = model.x_extent()
    for vx0, vx1 in ((lo, hi), (lo + 0.3 * (hi - lo), lo + 0.35 * (hi - lo))):
        px = (vx1 - vx0) / 900
        lanes = range(model.lane_count)
        screen = model.frame(vx0, vx1, px, lanes, screen=True)
        rects = model.frame(vx0, vx1, px, lanes)
        assert len(screen.strip) == 0 and len(screen.intervals) == 0  # no per-column rectangles on screen
        assert len(screen.strip_images) == model.lane_count
        for lane, image in enumerate(screen.strip_images):
            ncol = image.codes.shape[1]
            step = image.w / ncol
            assert image.y == lane + layout.STRIP_TOP and image.h == layout.STRIP_HEIGHT
            for k, state in enumerate(STACK, start=1):
                expected = rasterised(rects.strip.xywh[state], lane, image.x, step, ncol)
                np.testing.assert_array_equal(image.codes == k, expected, err_msg=f"lane {lane} {state.name}")


def test_a_strip_fed_batch_by_batch_paints_what_one_built_at_the_end_does() -> None:
    from synthetic import synth_batches

    from procviz.engine.timeline import Timeline
    from procviz.gui.gantt.strip import StateStrip

    tl = Timeline()
    live = StateStrip(tl)
    batches = synth_batches(n_tasks=3000, n_lanes=3, mean_ms=2.0, sample_ms=5.0, batches=12)
    for batch in batches:
        tl.apply(batch)
        live.images(0.0, 1.0, 1e-3, range(3))  # folds the new intervals in
    fresh = StateStrip(tl)
    lo, hi = float(tl.intervals.data["start_ns"].min() - tl.t0_ns) * 1e-9, (tl.now_ns - tl.t0_ns) * 1e-9
    for a, b in zip(live.images(lo, hi, (hi - lo) / 700, range(3)), fresh.images(lo, hi, (hi - lo) / 700, range(3)),
                    strict=True):
        assert (a.x, a.y, a.w, a.h) == (b.x, b.y, b.w, b.h)
        np.testing.assert_array_equal(a.codes, b.codes)
