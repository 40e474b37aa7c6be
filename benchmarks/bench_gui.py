"""GUI cost of a live run: CPU share of the GUI process and event-to-screen latency.

Three runs of the same kind of workload, side by side:

* ``procviz window``: the real MainWindow with its bridge (QTimer at ~30 Hz, one notification
  per tick), a 20k-task run. Latency is measured from each task's end time (``t_ns`` on the
  shared monotonic clock) to the start of the first paint of the chart after the tick that
  applied it, so it includes the worker's batching, the engine's 20 ms loop, the queue, the
  tick and the wait for the paint.
* ``engine only``: the same run with no GUI: the main thread drains the engine's queue into a
  Timeline every 33 ms (the window's bridge without the window). The difference in CPU is what the
  GUI costs.
* ``one signal per event``: a naive bridge that emits a Qt signal per task event and notifies
  the views per event (``--naive-tasks`` sets its size; the same 20k by default).

CPU is psutil's user+system time of this process, and separately of its main thread (the GUI
thread), divided by the wall time of the run.

Then whole processes, alternated (window, headless, window, headless, ...): the same run
(``--whole-tasks`` no-op CPU tasks, chunksize 100 by default: 100k) once in the window (a child
process that opens the window, presses Run, and quits when the run ends) and once with
``procviz run`` (no window, timeline written). Reported: the median of the per-pair ratios of
wall time, and in the window the gaps between ticks of a 10 ms GUI timer during the run
(median / p95 / max; a tick can only fire when the GUI thread is free, so a long gap is a
frozen window). Not a test: nothing is asserted.

``--gaps RUNS``: RUNS window runs of the whole-process size, each gap over 30 ms between ticks of
the 10 ms timer broken down (benchmarks/gui_stalls.py ``GapProbe``): the GUI thread's own CPU and
its wait in the kernel's run queue (its ``schedstat``), its sleep split by a watcher child process
into futex (the GIL) and poll (Qt's idle loop), every other thread's CPU in the gap, collections,
and the procviz handlers that ran; with ``--baseline REV`` alternated with that revision's window.

``--baseline REV`` adds the window of git revision ``REV`` to the alternation (an A/B of a change under
the same load); each window's CPU during the run is also shown thread by thread.

    python benchmarks/bench_gui.py [--tasks 20000] [--naive-tasks 20000] [--workers 2]
                                   [--whole-tasks 100000] [--pairs 3] [--only-whole] [--baseline REV]
                                   [--gaps RUNS] [--stalls] [--replay ROUNDS] [--costs ROUNDS] [--only-open]
                                   [--lead-cpu]

``--lead-cpu`` makes the whole-process children also read their threads' CPU every 10 ms and print
which thread used what from Run to the first task's start (the lead), beside the whole run's.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_stalls import StallSampler  # noqa: E402
from gui_whole import (  # noqa: E402
    GAP_PROBE_MS,
    LEAD_CPU_ENV,
    SETTLE_MS,
    bench_gaps,
    bench_whole,
    whole_config,
    window_child,
)
from launcher_name import name_main_as_the_launcher  # noqa: E402


@dataclass
class Figures:
    """What one scenario measured."""

    name: str
    tasks: int
    wall_s: float
    process_cpu_s: float
    main_cpu_s: float
    events: int
    latencies_ms: np.ndarray
    ticks: int = 0
    paints: int = 0

    def row(self) -> list[str]:
        lat = self.latencies_ms
        pct = (lambda q: f"{np.percentile(lat, q):.0f}") if len(lat) else (lambda q: "–")
        share = lambda cpu_s: f"{100 * cpu_s / self.wall_s:.0f}%"  # noqa: E731
        return [self.name, f"{self.tasks:,}", f"{self.wall_s:.2f}", share(self.process_cpu_s),
                share(self.main_cpu_s), f"{self.events / self.wall_s:,.0f}",
                f"{pct(50)} / {pct(95)} / {pct(100)}", str(self.ticks or "–"), str(self.paints or "–")]


HEADER = ["scenario", "tasks", "wall s", "process CPU", "GUI-thread CPU", "events/s",
          "latency ms p50 / p95 / max", "ticks", "paints"]


class CpuClock:
    """CPU seconds of this process and of the calling (main) thread since construction."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.tid = threading.get_native_id()
        self.p0, self.m0, self.w0 = self._process(), self._main(), time.perf_counter()

    def _process(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def _main(self) -> float:
        for th in self.proc.threads():
            if th.id == self.tid:
                return th.user_time + th.system_time
        return 0.0

    def read(self) -> tuple[float, float, float]:
        """(wall, process CPU, main-thread CPU) seconds since construction."""
        return time.perf_counter() - self.w0, self._process() - self.p0, self._main() - self.m0


def config(tasks: int, workers: int, duration_ms: float) -> dict:
    return {"workers": workers, "start_method": "spawn", "api": "map", "chunksize": 50,
            "workload": {"kind": "sleep", "count": tasks, "duration_ms": duration_ms}}


def bench_engine_only(tasks: int, workers: int, duration_ms: float) -> Figures:
    """The run with no GUI: drain the queue into a Timeline every 33 ms on the main thread."""
    from procviz.engine.config import parse_config
    from procviz.engine.events import RunPhase
    from procviz.engine.runner import Engine
    from procviz.engine.timeline import Timeline

    engine, timeline, ages = Engine(), Timeline(), []
    clock = CpuClock()
    engine.start(parse_config(config(tasks, workers, duration_ms)))
    events, finished = 0, False
    while not finished:
        time.sleep(0.033)
        while True:
            try:
                batch = engine.events.get_nowait()
            except queue.Empty:
                break
            timeline.apply(batch, notify=False)
            events += batch.event_count()
            if len(batch.ended):
                ages.append(time.monotonic_ns() - batch.ended["end_ns"])
            finished = finished or (batch.status is not None and batch.status.phase == RunPhase.FINISHED)
    wall, proc, main = clock.read()
    engine.join(10)
    lat = np.concatenate(ages) / 1e6 if ages else np.zeros(0)
    return Figures("engine only (no GUI)", tasks, wall, proc, main, events, lat)


class PaintProbe:
    """Ages of applied events at the first chart paint after the tick that applied them."""

    def __init__(self, window) -> None:  # noqa: ANN001
        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtWidgets import QGraphicsView

        self.window = window
        self.pending: list[tuple[int, np.ndarray]] = []
        self.ages: list[np.ndarray] = []
        self.paints = 0
        self._seen = 0
        probe = self

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802, ANN001, ANN201
                if event.type() == QEvent.Type.Paint:
                    probe.on_paint()
                return False

        self.filter = Filter()
        views = window.gantt.findChildren(QGraphicsView)
        if isinstance(window.gantt, QGraphicsView):
            views.append(window.gantt)
        targets = [v.viewport() for v in views] or [window.gantt]
        for target in targets:
            target.installEventFilter(self.filter)
        window.bridge.ticked.connect(self.on_tick)

    def on_tick(self) -> None:
        lat = self.window.bridge.latencies_ns
        now = time.monotonic_ns()
        for ages in lat[self._seen:]:
            self.pending.append((now, ages))
        self._seen = len(lat)

    def on_paint(self) -> None:
        self.paints += 1
        now = time.monotonic_ns()
        for tick_ns, ages in self.pending:
            self.ages.append(ages + (now - tick_ns))
        self.pending.clear()


def bench_window(tasks: int, workers: int, duration_ms: float, naive: bool = False) -> Figures:
    """The run in the real window (or with a naive one-signal-per-event bridge)."""
    from PySide6.QtWidgets import QApplication

    from procviz.engine.config import parse_config
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=make_settings(Path(tmp) / "bench.ini"))
        window.show_error = lambda title, text: print(f"  error: {title}: {text}")
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        if naive:
            install_naive_bridge(window)
        window.bridge.record_latency = True
        probe = PaintProbe(window)
        window.form.set_value(parse_config(config(tasks, workers, duration_ms)))
        done = []
        window.bridge.runFinished.connect(done.append)
        clock = CpuClock()
        window.start_run()
        while not done:
            app.processEvents()
            time.sleep(0.001)
        wall, proc, main = clock.read()
        app.processEvents()
        lat = np.concatenate(probe.ages) / 1e6 if probe.ages else np.zeros(0)
        name = "one Qt signal per event" if naive else "procviz window (bridge)"
        figures = Figures(name, tasks, wall, proc, main, window.bridge.events_applied, lat,
                          ticks=window.bridge.ticks, paints=probe.paints)
        window.close()
        window.deleteLater()
        app.processEvents()
    return figures


def install_naive_bridge(window) -> None:  # noqa: ANN001
    """Replace the bridge's tick with the anti-pattern: a signal per event, views updated per event."""
    from PySide6.QtCore import QObject, Signal

    from procviz.engine.events import EngineBatch, RunPhase

    bridge = window.bridge

    class PerEvent(QObject):
        event = Signal(object)

    emitter = PerEvent(window)

    def apply_one(batch: EngineBatch) -> None:
        bridge.timeline.apply(batch, notify=True)

    emitter.event.connect(apply_one)

    def tick(budget_s=False) -> int:  # noqa: ANN001
        n, ends = 0, []
        while True:
            try:
                batch = bridge.engine.events.get_nowait()
            except queue.Empty:
                break
            if batch.run is not None or batch.lanes or batch.status is not None or len(batch.intervals) \
                    or len(batch.resources):
                emitter.event.emit(EngineBatch(run=batch.run, lanes=batch.lanes, intervals=batch.intervals,
                                               resources=batch.resources, status=batch.status,
                                               now_ns=batch.now_ns))
            for name in ("submitted", "started", "ended"):
                rows = getattr(batch, name)
                for i in range(len(rows)):
                    emitter.event.emit(EngineBatch(**{name: rows[i:i + 1]}, now_ns=batch.now_ns))
                    n += 1
            if len(batch.ended):
                ends.append(batch.ended["end_ns"])
            if batch.status is not None and batch.status.phase == RunPhase.FINISHED:
                bridge._finished_seen = True
        bridge.ticks += 1
        bridge.events_applied += n
        if ends:
            bridge.latencies_ns.append(time.monotonic_ns() - np.concatenate(ends))
        if n:
            bridge.ticked.emit()
        if bridge._finished_seen:
            result = bridge.engine.join(0)
            if result is not None:
                bridge._end(result)
        return n

    bridge.timer.timeout.disconnect()
    bridge.timer.timeout.connect(tick)


def bench_open(tasks: int, repeats: int, stalls: bool = False) -> None:
    """Open a ``tasks``-task native file in the window: time to the first chart paint, timer gaps meanwhile
    (``stalls``: and where the GUI thread's long slices went)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        subprocess.run([sys.executable, "-m", "procviz", "run", "--kind", "cpu", "--count", str(tasks),
                        "--duration-ms", "0", "--chunksize", "1000", "--quiet", "--out", str(path)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"\nopening a {tasks:,}-task native file ({path.stat().st_size / 1e6:.0f} MB) in the window, "
              f"{repeats} times (load {os.getloadavg()[0]:.2f})")
        print(f"{'open':>4}  {'to first chart paint s':>22}  {'of which GUI thread after the read s':>37}  "
              f"{'10 ms timer gaps ms median / p95 / max':>40}")
        totals = []
        for k in range(repeats):
            window = MainWindow(settings=make_settings(Path(tmp) / "bench.ini"))
            window.show_error = lambda title, text: print(f"  error: {title}: {text}")
            window.resize(1280, 720)
            window.show()
            app.processEvents()
            fired: list[float] = []
            probe = QTimer()
            probe.setInterval(GAP_PROBE_MS)
            probe.timeout.connect(lambda fired=fired: fired.append(time.perf_counter()))
            sampler = StallSampler() if stalls else None
            if sampler is not None:
                probe.timeout.connect(sampler.tick)
                sampler.start()
            probe.start()
            t = time.perf_counter()
            ok = window.open_file(path)
            window.gantt.flush()
            window.gantt.grab()
            total = time.perf_counter() - t
            probe.stop()
            if sampler is not None:
                sampler.stop()
                print(sampler.report(50))
            gaps = np.diff(fired) * 1e3 if len(fired) > 1 else np.zeros(1)
            after = time.perf_counter() - (window.files.last_read_done or t)
            totals.append(total)
            print(f"{k:>4}  {total:>22.2f}  {after:>37.2f}  "
                  f"{np.median(gaps):>26.0f} / {np.percentile(gaps, 95):.0f} / {gaps.max():.0f}"
                  + ("" if ok else "  (failed)"))
            window.close()
            window.deleteLater()
            app.processEvents()
        print(f"median time to the first chart paint {statistics.median(totals):.2f} s")


def print_table(rows: list[Figures]) -> None:
    cells = [HEADER] + [r.row() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    for k, c in enumerate(cells):
        pairs = enumerate(zip(c, widths, strict=True))
        print("  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in pairs))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--naive-tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration-ms", type=float, default=0.5)
    parser.add_argument("--whole-tasks", type=int, default=100_000)
    parser.add_argument("--whole-chunksize", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--only-whole", action="store_true", help="only the whole-process comparison")
    parser.add_argument("--lead-cpu", action="store_true",
                        help="the whole-process comparison also reads each child's threads' CPU every 10 ms, to "
                             "say which used what from Run to the first task's start (the reads cost each child "
                             "~10-15 ms of CPU a run: not for the ratios)")
    parser.add_argument("--baseline", metavar="REV", help="the whole-process comparison also runs the window of "
                        "git revision REV, alternated with this one (an A/B of a change)")
    parser.add_argument("--open-tasks", type=int, default=1_000_000, help="tasks of the file opened (0: skip)")
    parser.add_argument("--only-open", action="store_true", help="only the file opening")
    parser.add_argument("--stalls", action="store_true",
                        help="one window run of --whole-tasks in this process, sampling where the GUI thread's "
                             "long slices go (benchmarks/gui_stalls.py)")
    parser.add_argument("--gaps", type=int, metavar="RUNS", default=0,
                        help="RUNS window runs of --whole-tasks (alternated with --baseline's), each gap over 30 ms "
                             "between GUI timer ticks broken down: GUI on-CPU, run queue, GIL, idle loop, collections, "
                             "handlers (benchmarks/gui_stalls.py GapProbe)")
    parser.add_argument("--gui-nice", type=int, metavar="N", help="with --gaps: also run the window with its GUI "
                        "thread at nice N (negative needs privileges; a diagnosis of run-queue waits)")
    parser.add_argument("--replay", type=int, metavar="ROUNDS", default=0,
                        help="record one run of --whole-tasks, replay it into the window ROUNDS times (and into "
                             "--baseline's, alternated): the window's own CPU, no workers competing "
                             "(benchmarks/gui_replay.py)")
    parser.add_argument("--folds", type=int, metavar="ROUNDS", default=0,
                        help="record one run of --whole-tasks, fold it into the chart's model, the queue's steps and "
                             "the numbers' copy in ROUNDS children (and --baseline's, alternated), no Qt: their "
                             "thread CPU over the run and up to its first task's start (benchmarks/gui_folds.py)")
    parser.add_argument("--costs", type=int, metavar="ROUNDS", default=0,
                        help="replay one recorded run of --whole-tasks into the window, then time the GUI thread's CPU "
                             "for what a live run repeats (a time range move, a numbers show, an elapsed tick, a "
                             "progress refresh, a table repaint), ROUNDS children each, alternated with --baseline's "
                             "(benchmarks/gui_costs.py)")
    parser.add_argument("--costs-child", nargs=4, metavar=("RECORDING", "CONFIG", "SETTLE_MS", "REPEATS"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--folds-child", nargs=2, metavar=("RECORDING", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--replay-child", nargs=3, metavar=("RECORDING", "CONFIG", "SETTLE_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    name_main_as_the_launcher()  # the runs recorded or run here: their workers must not run this script again
    if args.lead_cpu:
        os.environ[LEAD_CPU_ENV] = "1"  # read by the whole-process children (gui_whole.CpuTrail)
    child = args.replay_child or args.costs_child or args.folds_child
    if not child:  # as installing a wheel does (PYTHONDONTWRITEBYTECODE on this machine: see compare.py)
        from compare import compile_procviz

        compile_procviz()
    if args.replay_child:
        from gui_replay import replay_child

        replay_child(args.replay_child[0], args.replay_child[1], int(args.replay_child[2]))
        return
    if args.costs_child:
        from gui_costs import costs_child

        costs_child(args.costs_child[0], args.costs_child[1], int(args.costs_child[2]), int(args.costs_child[3]))
        return
    if args.folds_child:
        from gui_folds import folds_child

        folds_child(args.folds_child[0], int(args.folds_child[1]))
        return
    if args.replay or args.folds or args.costs:
        from gui_costs import bench_costs
        from gui_folds import bench_folds
        from gui_replay import bench_replay

        with tempfile.TemporaryDirectory(prefix="procviz-baseline-") as old:
            base = None
            if args.baseline:
                from compare import unpack_baseline

                base = (f"window@{unpack_baseline(args.baseline, old)}", {"PYTHONPATH": os.pathsep.join(
                    filter(None, [old, os.environ.get("PYTHONPATH")]))})
            print(f"load: {open('/proc/loadavg').read().split()[:3]}")
            config = whole_config(args.whole_tasks, args.workers, args.whole_chunksize)
            if args.folds:
                bench_folds(config, args.folds, base)
            if args.replay:
                bench_replay(config, args.replay, SETTLE_MS, base)
            if args.costs:
                bench_costs(config, args.costs, SETTLE_MS, base)
        return
    if args.gaps:
        print(f"load: {open('/proc/loadavg').read().split()[:3]}")
        bench_gaps(args.whole_tasks, args.workers, args.whole_chunksize, args.gaps, args.baseline, args.gui_nice)
        return
    if args.stalls and not args.only_open:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "config.json"
            cfg.write_text(json.dumps(whole_config(args.whole_tasks, args.workers, args.whole_chunksize)))
            print(f"load: {open('/proc/loadavg').read().split()[:3]}")
            window_child(str(cfg), stalls=True)
        return
    print(f"load: {open('/proc/loadavg').read().split()[:3]} (uptime's 1/5/15-minute averages)")
    if args.only_whole:
        bench_whole(args.whole_tasks, args.workers, args.whole_chunksize, args.pairs, args.baseline)
        return
    if args.only_open:
        bench_open(args.open_tasks, 3, args.stalls)
        return
    print(f"host: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"Qt platform {os.environ['QT_QPA_PLATFORM']}; sleep tasks of {args.duration_ms} ms, "
          f"{args.workers} workers, map chunksize 50\n")
    rows = [
        bench_window(args.tasks, args.workers, args.duration_ms),
        bench_engine_only(args.tasks, args.workers, args.duration_ms),
        bench_window(args.naive_tasks, args.workers, args.duration_ms, naive=True),
    ]
    if args.naive_tasks != args.tasks:  # the bridge at the naive run's size, for a like-for-like row
        rows.append(bench_window(args.naive_tasks, args.workers, args.duration_ms))
    print_table(rows)
    print("\nlatency: task end (worker clock) -> first chart paint after the tick that applied it "
          "(engine only: -> drained by the main thread)")
    if args.pairs:
        bench_whole(args.whole_tasks, args.workers, args.whole_chunksize, args.pairs, args.baseline)
    if args.open_tasks:
        bench_open(args.open_tasks, 3)


if __name__ == "__main__":
    main()
