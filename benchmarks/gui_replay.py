"""The window's own cost for one recorded run, replayed: a steady A/B of GUI changes on a busy machine.

A run's engine batches are recorded once, with the time each arrived (a real run of
``procviz``'s engine, headless); then each window (this tree's, and a baseline revision's) is fed
the same batches at the same pace by a stand-in engine, with no workers competing, and what is
measured is the window's own work: its GUI thread's CPU from Run to the end shown (and the
figures thread's), the chart's folds and repaints, and the gaps between ticks of a 10 ms GUI timer.
The window under test is the real MainWindow; only the engine is replaced. Alternated, repeated,
medians. Used by ``bench_gui.py --replay``; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# A replay child run by hand with BENCH_GUI_PROFILE=FILE profiles its GUI thread (cProfile, Python
# frames only) from Run to the end shown into FILE, or only up to the first task's start with
# BENCH_GUI_PROFILE_LEAD=1: `BENCH_GUI_PROFILE=/tmp/gui.prof python benchmarks/bench_gui.py
# --replay-child RECORDING CONFIG 300` (a recording: gui_replay.record).
PROFILE_ENV, PROFILE_LEAD_ENV = "BENCH_GUI_PROFILE", "BENCH_GUI_PROFILE_LEAD"
# BENCH_GUI_HIDE=1 python benchmarks/bench_gui.py --replay N: every dock, the chart and the progress
# line hidden before Run, so the GUI thread's CPU left is the folds, the batches and the figures
# (the data work), not Qt's painting and layout.
HIDE_ENV = "BENCH_GUI_HIDE"


def record(config_path: str, out: str) -> int:
    """Run ``config_path``'s run headless and pickle its batches with their arrival times; returns how many."""
    from procviz.engine.config import parse_config
    from procviz.engine.events import RunPhase
    from procviz.engine.runner import Engine

    engine = Engine()
    t = time.monotonic()
    engine.start(parse_config(json.loads(Path(config_path).read_text())))
    got = []
    while True:
        batch = engine.events.get()
        got.append((time.monotonic() - t, batch))
        if batch.status is not None and batch.status.phase == RunPhase.FINISHED:
            break
    result = engine.join(10)
    with open(out, "wb") as f:
        pickle.dump((got, result), f)
    return len(got)


class ReplayEngine:
    """Stands in for engine.runner.Engine: puts recorded batches on ``events`` at their recorded times."""

    def __init__(self, recording: tuple[list[tuple[float, Any]], Any]) -> None:
        self.batches, self.recorded = recording
        self.events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.task_rows = True
        self.result: Any = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: Any, head: Any = None) -> None:
        self.result = None
        self._thread = threading.Thread(target=self._play, name="procviz-engine", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        t = time.monotonic()
        for at, batch in self.batches:
            time.sleep(max(t + at - time.monotonic(), 0.0))
            self.events.put(batch)
        self.result = self.recorded

    def stop(self, timeout_s: float = 5.0) -> None:
        pass

    def join(self, timeout_s: float | None = None) -> Any:
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                return None
        return self.result


def event_counter(counts: dict[str, int]) -> Any:
    """An event filter counting, into ``counts``, the window's repaint passes (its UpdateRequest
    events) and the paints of the other objects it filters (the task table's viewport)."""
    from PySide6.QtCore import QEvent, QObject

    class Counter(QObject):
        def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.UpdateRequest:
                counts["window_passes"] += 1
            elif event.type() == QEvent.Type.Paint and not watched.isWindow():
                counts["table_paints"] += 1
            return False

    return Counter()


def shown_window(recording: Any, config_path: str, settle_ms: int, tmp: str) -> Any:
    """(In a child process, after QApplication.) The real MainWindow, 1280x720, fed by a stand-in
    engine replaying ``recording``, its forms holding the run of ``config_path``; shown and
    settled for ``settle_ms``, Run not pressed. Its settings live in ``tmp``."""
    from PySide6.QtTest import QTest

    from procviz.engine.config import parse_config
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    window = MainWindow(settings=make_settings(Path(tmp) / "bench.ini"), engine=ReplayEngine(recording))
    window.resize(1280, 720)
    window.show()
    window.form.set_value(parse_config(json.loads(Path(config_path).read_text())))
    QTest.qWaitForWindowExposed(window)
    QTest.qWait(settle_ms)
    return window


def replay_child(recording_path: str, config_path: str, settle_ms: int) -> None:
    """(In a child process.) Show the window, press Run with the stand-in engine; print JSON figures."""
    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from procviz.gui.gantt import widget

    with open(recording_path, "rb") as f:
        recording = pickle.load(f)
    counts = {"paints": 0, "folds": 0, "table_paints": 0, "window_passes": 0}
    submitted = sum(len(batch.submitted) for _, batch in recording[0])
    paint, flush = widget.ChartView.paintEvent, widget.GanttWidget.flush

    def counted_paint(self: Any, ev: Any) -> None:
        counts["paints"] += 1
        paint(self, ev)

    def counted_flush(self: Any) -> None:
        counts["folds"] += 1
        flush(self)

    widget.ChartView.paintEvent, widget.GanttWidget.flush = counted_paint, counted_flush  # type: ignore[method-assign]
    app = QApplication([sys.argv[0]])
    watcher = event_counter(counts)
    with tempfile.TemporaryDirectory() as tmp:
        window = shown_window(recording, config_path, settle_ms, tmp)
        if os.environ.get(HIDE_ENV):  # what is left is the window's data work (see HIDE_ENV)
            from PySide6.QtWidgets import QDockWidget

            for part in [*window.findChildren(QDockWidget), window.gantt, window.progress]:
                part.hide()
        window.installEventFilter(watcher)  # (the repaint passes of the window: its UpdateRequest events)
        window.tasks.view.viewport().installEventFilter(watcher)
        figures_tid = window.live_numbers.worker.thread.native_id
        fired: list[float] = []
        probe = QTimer()
        probe.setInterval(10)
        probe.timeout.connect(lambda: fired.append(time.perf_counter()))
        at: dict[str, Any] = {}

        def figures_cpu() -> float:
            with open(f"/proc/self/task/{figures_tid}/schedstat", "rb") as f:
                return int(f.read().split()[0]) / 1e9

        profile_to = os.environ.get(PROFILE_ENV)
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()

        def profiled() -> None:
            if profiler is not None and profile_to:
                profiler.disable()
                profiler.dump_stats(profile_to)

        def start() -> None:
            at.update(counts=dict(counts), t=time.perf_counter(), c=time.thread_time(), n=figures_cpu())
            probe.start()
            if profiler is not None:
                profiler.enable()  # (this thread only)
            window.start_run()

        def finished(result: Any) -> None:
            at.update(run_s=time.perf_counter() - at["t"], gui_cpu_s=time.thread_time() - at["c"],
                      figures_cpu_s=figures_cpu() - at["n"], **{k: counts[k] - at["counts"][k] for k in counts})
            if not os.environ.get(PROFILE_LEAD_ENV):
                profiled()
            probe.stop()
            QTimer.singleShot(0, app.quit)

        def ticked() -> None:  # the lead: from Run to the tick that applied the first task's start
            if "lead_cpu_s" not in at and window.bridge.events_applied > submitted:
                at["lead_cpu_s"] = time.thread_time() - at["c"]
                if os.environ.get(PROFILE_LEAD_ENV):
                    profiled()

        window.bridge.ticked.connect(ticked)
        window.bridge.runFinished.connect(finished)
        QTimer.singleShot(0, start)
        app.exec()
        window.close()
        window.live_numbers.worker.close(1.0)
    gaps = np.diff(fired) * 1e3 if len(fired) > 1 else np.zeros(1)
    print(json.dumps({k: at[k] for k in ("run_s", "gui_cpu_s", "lead_cpu_s", "figures_cpu_s", *counts)}
                     | {"gap_p95_ms": float(np.percentile(gaps, 95)), "gap_max_ms": float(gaps.max())}))


def alternated(cmd: list[str], envs: dict[str, dict[str, str]], rounds: int) -> dict[str, list[dict]]:
    """Run ``cmd`` once with each of ``envs`` (by name) per round, the order reversed every other
    round; the JSON each child printed last, by name (a child that failed is reported and left out)."""
    got: dict[str, list[dict]] = {name: [] for name in envs}
    for k in range(rounds):
        for name in list(envs)[:: 1 if k % 2 == 0 else -1]:
            out = subprocess.run(cmd, env=envs[name], capture_output=True, text=True, timeout=600)
            lines = out.stdout.strip().splitlines()
            if out.returncode != 0 or not lines:
                print(f"  {name} exited {out.returncode}: {out.stderr.strip()[-300:]}")
                continue
            got[name].append(json.loads(lines[-1]))
    return got


def bench_replay(config: dict, rounds: int, settle_ms: int, baseline_env: tuple[str, dict[str, str]] | None) -> None:
    """Record ``config``'s run once, then replay it into this window (and the baseline's) ``rounds``
    times, alternated."""
    script = str(Path(__file__).resolve().parent / "bench_gui.py")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp:
        cfg, rec = Path(tmp) / "config.json", Path(tmp) / "run.pkl"
        cfg.write_text(json.dumps(config))
        n = record(str(cfg), str(rec))
        windows = {"window": env}
        if baseline_env is not None:
            windows[baseline_env[0]] = {**env, **baseline_env[1]}
        got = alternated([sys.executable, script, "--replay-child", str(rec), str(cfg), str(settle_ms)], windows,
                         rounds)
    print(f"\nthe window's own cost for one recorded run ({config['workload']['count']:,} tasks, {n} engine batches), "
          f"replayed {rounds} times into each window, alternated (load {os.getloadavg()[0]:.2f} after); medians:")
    for name, runs in got.items():
        if not runs:
            continue
        med = {key: statistics.median(r[key] for r in runs if key in r) for key in runs[0]}
        print(f"  {name:<18} GUI-thread CPU {1e3 * med['gui_cpu_s']:6.1f} ms ("
              + " ".join(f"{1e3 * r['gui_cpu_s']:.0f}" for r in runs)
              + f"), of it up to the first task's start {1e3 * med.get('lead_cpu_s', float('nan')):5.1f} ms, figures "
              f"thread {1e3 * med['figures_cpu_s']:5.1f} ms, chart folds {med['folds']:.0f}, repaints "
              f"{med['paints']:.0f}, table repaints {med.get('table_paints', float('nan')):.0f}, window repaint "
              f"passes {med.get('window_passes', float('nan')):.0f}, 10 ms timer gaps p95 {med['gap_p95_ms']:.0f} / "
              f"max {med['gap_max_ms']:.0f} ms")
