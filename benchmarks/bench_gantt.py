"""Gantt frame times at a million bars, next to naive references, in one run.

    python benchmarks/bench_gantt.py [--tasks 1000000] [--lanes 8] [--frames 30]

Scenarios (a frame = fold in new data if any, then paint the whole widget with ``grab()``):

* pan, 1M in view: the view moves a little every frame, so culling + merging run every frame;
* zoom in 15%/frame from 1M in view: crosses a level of the merge cache every ~5 frames;
* repaint, 1M in view: nothing changed (hover, tooltip): cached rectangles are replayed;
* append 1k/frame at 1M: a 1k-task EngineBatch is applied to the Timeline every frame and the
  chart keeps the whole run in view (what a live run at the 30 Hz GUI tick does);
* references: the same 1M bars drawn with one ``drawRects`` call and no culling or merging, and
  with pyqtgraph's ``BarGraphItem`` (rebuilt with all bars every frame for the append case).

Frame time is wall time on this machine, offscreen; no assertions (see DESIGN.md: benchmarks
measure, tests do not time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from procviz.engine.events import EngineBatch  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.gantt import GanttWidget  # noqa: E402
from procviz.gui.gantt.paint import draw_rects  # noqa: E402
from tests.synthetic import synth_batches  # noqa: E402

WIDTH, HEIGHT = 1600, 900


CPU_MS: dict[int, list[float]] = {}  # id(the wall list) -> this thread's CPU ms of the same frames


def timed(frame, n: int) -> list[float]:
    """Milliseconds of each of ``n`` calls of ``frame(i)`` (after one warm-up call); the calling
    thread's CPU time of each is kept in CPU_MS (a loaded machine stretches wall time, not this)."""
    frame(-1)
    out, cpu = [], []
    for i in range(n):
        t, c = time.perf_counter(), time.thread_time()
        frame(i)
        out.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.thread_time() - c) * 1e3)
    CPU_MS[id(out)] = cpu
    return out


def split_batch(batch: EngineBatch, first: int, step: int) -> list[EngineBatch]:
    """One big batch -> the first ``first`` task starts (with their ends), then ``step`` per batch."""
    order = np.argsort(batch.started["t_ns"], kind="stable")
    started = batch.started[order]
    pos = np.empty(len(batch.ended), np.int64)
    where = np.full(int(batch.started["task_id"].max()) + 1, -1, np.int64)
    where[started["task_id"]] = np.arange(len(started))
    pos[:] = where[batch.ended["task_id"]]
    cuts = [0, first] + list(range(first + step, len(started), step)) + [len(started)]
    cuts = sorted(set(cuts))
    out = []
    for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        ended = batch.ended[(pos >= a) & (pos < b)]
        t_lo = started["t_ns"][a]
        t_hi = started["t_ns"][b] if b < len(started) else np.iinfo(np.int64).max
        iv = batch.intervals[(batch.intervals["start_ns"] >= (t_lo if k else np.iinfo(np.int64).min))
                             & (batch.intervals["start_ns"] < t_hi)]
        now = int(started["t_ns"][b - 1]) + 1_000_000
        out.append(EngineBatch(run=batch.run if k == 0 else None, lanes=batch.lanes if k == 0 else (),
                               submitted=batch.submitted if k == 0 else batch.submitted[:0],
                               started=started[a:b], ended=ended, intervals=iv, now_ns=now))
    return out


class NaiveRects(pg.GraphicsObject):
    """Reference: every bar, every frame, one drawRects call; no culling, no merging."""

    def __init__(self, xywh: np.ndarray) -> None:
        super().__init__()
        self.xywh = xywh
        self._rect = QRectF(float(xywh[:, 0].min()), 0.0, float(np.ptp(xywh[:, 0] + xywh[:, 2])),
                            float(xywh[:, 1].max() + 1))

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, p, *args) -> None:
        p.setPen(pg.mkPen(None))
        p.setBrush(pg.mkBrush("#2F6DB5"))
        draw_rects(p, self.xywh)


def reference_plot(item: pg.GraphicsObject, x_range: tuple[float, float], lanes: int) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.resize(WIDTH, HEIGHT)
    plot.addItem(item)
    plot.setXRange(*x_range, padding=0)
    plot.setYRange(0, lanes, padding=0)
    plot.show()
    return plot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--lanes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--append", type=int, default=1000, help="bars added per frame")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    n, frames, step = args.tasks, args.frames, args.append

    t = time.perf_counter()
    big = synth_batches(n_tasks=n + (frames + 1) * step, n_lanes=args.lanes, mean_ms=1.0, sample_ms=10.0)[0]
    batches = split_batch(big, n, step)
    print(f"synthesised {n + (frames + 1) * step:,} tasks on {args.lanes} lanes in {time.perf_counter() - t:.1f} s")

    tl = Timeline()
    t = time.perf_counter()
    tl.apply(batches[0])
    w = GanttWidget(tl)
    w.resize(WIDTH, HEIGHT)
    w.show()
    app.processEvents()
    w.zoom_to_fit()
    print(f"first batch ({n:,} bars) applied and indexed in {time.perf_counter() - t:.2f} s; "
          f"{w.item.visible_rect_count():,} task rectangles painted at full zoom-out")
    (x0, x1), _ = w.view_box.viewRange()
    width = x1 - x0

    def pan(i: int) -> None:
        shift = width * 1e-3 * (1 if i % 2 else -1)
        w.view_box.setXRange(x0 + shift, x1 + shift, padding=0)
        w.grab()

    def repaint(i: int) -> None:
        w.grab()

    def zoom(i: int) -> None:
        (a, b), _ = w.view_box.viewRange()
        mid, half = (a + b) / 2, (b - a) / 2 / 1.15
        w.view_box.setXRange(mid - half, mid + half, padding=0)
        w.grab()

    results: dict[str, list[float]] = {}
    results["pan, 1M in view"] = timed(pan, frames)
    results["zoom in 15%/frame"] = timed(zoom, frames)
    w.view_box.setXRange(x0, x1, padding=0)
    results["repaint, 1M in view"] = timed(repaint, frames)
    merge_ms = timed(lambda i: w.model.frame(x0, x1, width / WIDTH, range(w.model.lane_count)), frames)
    results["  of which cull+merge"] = merge_ms

    pending = iter(batches[1:])

    def append(i: int) -> None:
        tl.apply(next(pending))
        w.flush()
        w.grab()

    results[f"append {step}/frame at 1M"] = timed(append, min(frames, len(batches) - 2))

    # ---- references -----------------------------------------------------------------------------
    first = batches[0]
    ids = first.started["task_id"]
    xs = (first.started["t_ns"] - tl.t0_ns) * 1e-9
    ends = np.zeros(tl.n_tasks)
    ends[first.ended["task_id"]] = (first.ended["end_ns"] - tl.t0_ns) * 1e-9
    xe = ends[ids]
    lanes = first.started["lane"].astype(np.float64)
    xywh = np.ascontiguousarray(np.column_stack([xs, lanes + 0.1, xe - xs, np.full(len(xs), 0.56)]))
    naive = reference_plot(NaiveRects(xywh), (x0, x1), args.lanes)
    app.processEvents()
    results["ref: drawRects, no cull/merge"] = timed(lambda i: naive.grab(), max(3, frames // 5))
    naive.close()

    bars = pg.BarGraphItem(x0=xs, x1=xe, y0=lanes + 0.1, height=0.56, pen=None, brush="#2F6DB5")
    ref = reference_plot(bars, (x0, x1), args.lanes)
    app.processEvents()
    results["ref: BarGraphItem"] = timed(lambda i: ref.grab(), max(3, frames // 5))
    extra = iter(range(1, 10**9))

    def bar_append(i: int) -> None:
        k = next(extra) * step
        new_x = xs[-1] + np.arange(k) * 1e-4
        bars.setOpts(x0=np.concatenate([xs, new_x]), x1=np.concatenate([xe, new_x + 5e-5]),
                     y0=np.concatenate([lanes, np.zeros(k)]) + 0.1, height=0.56)
        ref.grab()

    results[f"ref: BarGraphItem append {step}/frame"] = timed(bar_append, 3)
    ref.close()

    # ---- tables ---------------------------------------------------------------------------------
    def med(name: str) -> float:
        return statistics.median(results[name])

    print(f"\nload {os.getloadavg()[0]:.2f}; wall ms, and the GUI thread's own CPU ms of the same frames")
    print(f"{'scenario (' + str(args.lanes) + ' lanes)':<40}{'median ms':>11}{'p95 ms':>9}{'CPU median':>12}")
    for name, ms in results.items():
        p95 = sorted(ms)[max(0, int(round(0.95 * len(ms))) - 1)]
        cpu = CPU_MS.get(id(ms))
        print(f"{name:<40}{med(name):>11.2f}{p95:>9.2f}" + (f"{statistics.median(cpu):>12.2f}" if cpu else ""))
    print(f"\n{'side by side (median ms)':<40}{'procviz':>9}{'reference':>11}{'ratio':>8}")
    pairs = [("1M in view vs drawRects, no cull/merge", "pan, 1M in view", "ref: drawRects, no cull/merge"),
             ("1M in view vs BarGraphItem", "pan, 1M in view", "ref: BarGraphItem"),
             (f"append {step}/frame vs BarGraphItem", f"append {step}/frame at 1M",
              f"ref: BarGraphItem append {step}/frame")]
    for label, ours, ref_name in pairs:
        print(f"{label:<40}{med(ours):>9.2f}{med(ref_name):>11.2f}{med(ref_name) / med(ours):>7.1f}x")
    w.detach()


if __name__ == "__main__":
    main()
