"""The GUI thread's CPU for single things the window repeats while a run is live: a steady A/B.

A replayed run's whole cost (``bench_gui.py --replay``) moves by 15-30 ms from one child to the
next on this machine, more than one of the window's repeated operations costs in a run; here each
is repeated in the window that showed the recorded run (the real MainWindow, its stand-in engine
done) and timed with the GUI thread's CPU clock, its repaints included (each repeat is followed by
the event loop's passes until they are done), less what those passes cost with nothing to do:

* ``time range move``: the chart's time range moves, as at a live run's fold when its edge
  reaches the end of the view, and the chart repaints (axes, bars, queue);
* ``numbers show``: the live numbers shown (progress, metrics, the task table) with other
  figures, as at each of a live run's refreshes (4 a second);
* ``elapsed tick``: the progress line's elapsed time changes (10 a second while live);
* ``progress refresh``: the progress line shows other counts (a copy of the run with one more task
  finished each time: the bar's value and text change), as at each numbers refresh;
* ``table repaint``: the task table's rows on screen are painted again, as when a live refresh
  changed them all.

Used by ``bench_gui.py --costs ROUNDS [--baseline REV]``; alternated, medians. Nothing here is a
test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPERATIONS = ("time range move", "numbers show", "elapsed tick", "progress refresh", "table repaint")


def _per_repeat_ms(app: Any, operation: Callable[[int], object], repeats: int) -> float:
    """GUI-thread CPU per repeat of ``operation(i)`` with the passes of the event loop it brings."""
    started = time.thread_time()
    for i in range(repeats):
        operation(i)
        app.processEvents()
        app.processEvents()  # (a repaint asked for in the first pass is done in the second)
    return (time.thread_time() - started) / repeats * 1e3


def costs_child(recording_path: str, config_path: str, settle_ms: int, repeats: int) -> None:
    """(In a child process.) Replay the recorded run into the window, then time each operation
    ``repeats`` times; print JSON, ms per repeat."""
    import numpy as np
    from gui_replay import shown_window
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from procviz.engine.events import TaskState
    from procviz.gui.numbers_worker import FrozenCopy

    with open(recording_path, "rb") as f:
        recording = pickle.load(f)
    app = QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        window = shown_window(recording, config_path, settle_ms, tmp)
        ended: list[object] = []
        window.bridge.runFinished.connect(ended.append)
        window.start_run()
        while not ended:
            QTest.qWait(20)
        QTest.qWait(settle_ms)  # the run's last numbers and its closing fold shown
        gantt, numbers, metrics = window.gantt, window.live_numbers, window.metrics.metrics
        assert metrics is not None  # (the run's figures are shown)
        (x0, x1), _ = gantt.view_box.viewRange()

        def move(i: int) -> None:  # as GanttWidget._flush moves a fitted view, its transforms applied at once
            gantt.view_box.setRange(xRange=(x0, x1 * (1.0 + 0.01 * (i % 50 + 1))), padding=0)
            gantt.view_box.prepareForPaint()
            gantt.plot.queue.getViewBox().prepareForPaint()

        def show(i: int) -> None:  # other figures each time, as a live run's refreshes bring
            lanes = [dataclasses.replace(lm, tasks=lm.tasks + i, busy_ns=lm.busy_ns + i * 1_000_000)
                     for lm in metrics.lanes]
            numbers._show(window.timeline, dataclasses.replace(
                metrics, done=metrics.done - i, makespan_ns=metrics.makespan_ns + i * 1_000_000, lanes=lanes))

        def tick(i: int) -> None:
            window.progress.elapsed.setText(f"{0.1 * i:.1f} s")

        counts = FrozenCopy().take(window.timeline)  # (a copy of its own: the shown run is left as it is)
        done = np.flatnonzero(counts.state == int(TaskState.DONE))

        def progress(i: int) -> None:  # other counts each time: the bar moves, its text changes
            counts.state[done[: (i % 50 + 1) * max(len(done) // 50, 1)]] = int(TaskState.RUNNING)
            window.progress.refresh(counts)
            counts.state[done] = int(TaskState.DONE)

        def table(i: int) -> None:
            window.tasks.view.viewport().update()

        idle = _per_repeat_ms(app, lambda i: None, repeats)
        got = {name: _per_repeat_ms(app, operation, repeats) - idle
               for name, operation in zip(OPERATIONS, (move, show, tick, progress, table), strict=True)}
        window.close()
        window.live_numbers.worker.close(1.0)
    print(json.dumps(got))


def bench_costs(config: dict, rounds: int, settle_ms: int, baseline_env: tuple[str, dict[str, str]] | None,
                repeats: int = 100) -> None:
    """Record ``config``'s run once; in children of this tree (and the baseline's), alternated
    ``rounds`` times, replay it and time each operation ``repeats`` times; print the medians."""
    from gui_replay import alternated, record

    script = str(Path(__file__).resolve().parent / "bench_gui.py")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp:
        cfg, rec = Path(tmp) / "config.json", Path(tmp) / "run.pkl"
        cfg.write_text(json.dumps(config))
        record(str(cfg), str(rec))
        windows = {"window": env}
        if baseline_env is not None:
            windows[baseline_env[0]] = {**env, **baseline_env[1]}
        got = alternated([sys.executable, script, "--costs-child", str(rec), str(cfg), str(settle_ms), str(repeats)],
                         windows, rounds)
    print(f"\nthe GUI thread's CPU per repeat of what a live run repeats, in the window after a replayed "
          f"{config['workload']['count']:,}-task run, {repeats} repeats a child, {rounds} children each, "
          f"alternated (load {os.getloadavg()[0]:.2f} after); ms, medians (each child's):")
    for name, rows in got.items():
        if rows:
            print(f"  {name:<18}" + "  ".join(
                f"{op} {statistics.median(r[op] for r in rows):5.2f} ({' '.join(f'{r[op]:.2f}' for r in rows)})"
                for op in OPERATIONS))
