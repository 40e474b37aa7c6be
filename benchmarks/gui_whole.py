"""Whole processes, alternated: a live run in the window against ``procviz run`` without one.

``python benchmarks/bench_gui.py --only-whole [--pairs N] [--baseline REV]`` runs this (see that
script's docstring). The same run (``--whole-tasks`` no-op CPU tasks, chunksize 100 by default:
100k) goes once in the window (a child process that opens the window, waits until it is painted,
presses Run, and quits when the run ends), once with ``procviz run`` (no window, timeline
written), and once driven without a window in a child that drains the engine into a Timeline as
the CLI does. Reported: the medians of the per-pair ratios of the run (from Run to the end shown)
and of the whole process, each window's CPU during the run thread by thread, the run split into
its lead (Run -> first task start), tasks and tail, and the gaps between ticks of a 10 ms GUI timer
during the run (a tick can only fire when the GUI thread is free: a long gap is a frozen window).

The children are this script: ``--window-child CONFIG`` and ``--headless-child CONFIG``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

if "--headless-child" in sys.argv:  # as `procviz run` imports it: OpenBLAS's threads would spin ~70 ms of CPU
    from procviz.engine.numpy_import import import_numpy  # while its workers boot (the window's did long before)

    import_numpy("spawn")
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_stalls import GapProbe, SlotTimer, StallSampler, gap_report, is_handler  # noqa: E402
from launcher_name import name_main_as_the_launcher  # noqa: E402

GAP_PROBE_MS = 10
SETTLE_MS = 300  # the window child shows the window this long before it presses Run


def whole_config(tasks: int, workers: int, chunksize: int) -> dict:
    return {"workers": workers, "start_method": "spawn", "api": "map", "chunksize": chunksize,
            "workload": {"kind": "cpu", "count": tasks, "duration_ms": 0}}


def window_child(config_path: str, stalls: bool = False, gaps: bool = False) -> None:
    """(In a child process.) Open the window, press Run, quit when the run ends; print tick gaps as JSON.

    ``stalls``: also sample the GUI thread's stack and print where its long slices went first.
    ``gaps``: also break each long gap down (gui_stalls.GapProbe: on-CPU, run queue, GIL, idle loop,
    collections, the handlers that ran; no stack sampler, whose own GIL use would blur it), printed
    first and put in the JSON (``breakdown``).
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from procviz.engine.config import parse_config
    from procviz.engine.events import RunPhase
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    app = QApplication([sys.argv[0]])
    nice = os.environ.get("PROCVIZ_BENCH_GUI_NICE")
    if nice:  # (a diagnosis, see bench_gaps: a GUI thread the kernel favours over the workers)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(nice))
    handlers = SlotTimer() if gaps else None
    if handlers is not None:  # before the window is built: PySide looks a Python override up once per object
        handlers.install(is_handler)
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=make_settings(Path(tmp) / "bench.ini"))
        window.show_error = lambda title, text: print(f"error: {title}: {text}", file=sys.stderr)
        window.resize(1280, 720)
        window.show()
        window.form.set_value(parse_config(json.loads(Path(config_path).read_text())))
        # Run is pressed in a window already on screen, as a person does: its first paint (every
        # widget, ~20-30 ms of the GUI thread) is not the run's (it landed in the run before).
        QTest.qWaitForWindowExposed(window)
        gap_probe = GapProbe() if gaps else None
        if gap_probe is not None:
            gap_probe.start()  # (its watcher child is up and noting by the time Run is pressed)
        QTest.qWait(SETTLE_MS)
        fired: list[float] = []
        probe = QTimer()
        probe.setInterval(GAP_PROBE_MS)
        probe.timeout.connect(lambda: fired.append(time.perf_counter()))
        sampler = StallSampler() if stalls else None
        slots = SlotTimer() if stalls else None
        if sampler is not None and slots is not None:
            probe.timeout.connect(sampler.tick)
            slots.install()
        if gap_probe is not None:
            slots = handlers
            probe.timeout.connect(gap_probe.tick)
        span: list[float] = []
        cpu: list[float] = []
        threads: list[dict[str, float]] = []
        marks: list[int] = []
        trail = CpuTrail()

        def note_now() -> None:
            """The clocks at Run and at the end shown: wall, process CPU, each thread's CPU."""
            marks.append(time.monotonic_ns())
            span.append(time.perf_counter())
            cpu.append(time.process_time())
            threads.append(thread_cpu())

        def finished(result) -> None:  # noqa: ANN001
            note_now()
            trail.stop()
            probe.stop()
            QTimer.singleShot(0, app.quit)

        def start() -> None:
            note_now()
            trail.start()
            probe.start()
            if sampler is not None:
                sampler.start()
            if not window.start_run():
                app.quit()
            if gap_probe is not None:
                gap_probe.watch([t.native_id for t in threading.enumerate()
                                 if t.name == "procviz-engine" and t.native_id])

        window.bridge.runFinished.connect(finished)
        # A reading at the run's last status: the engine thread has ended by runFinished, its time is read here.
        window.bridge.statusChanged.connect(
            lambda status: threads.append(thread_cpu()) if threads and status.phase == RunPhase.FINISHED else None)
        QTimer.singleShot(0, start)
        app.exec()
        window.close()
    if sampler is not None:
        sampler.stop()
        print(sampler.report())
        print(slots.report())
    breakdown: list[dict] = []
    if gap_probe is not None:
        gap_probe.stop()
        breakdown = gap_probe.breakdown(slots)
        print(gap_report(breakdown, len(gap_probe.rows)))
        print(f"(the watcher child used {gap_probe.watcher_cpu_s:.3f} s of CPU)")
        if len(gap_probe.machine) > 1:
            busy0, busy1 = gap_probe.machine[0][0], gap_probe.machine[-1][0]
            probed_s = (gap_probe.rows[-1][0] - gap_probe.rows[0][0]) / 1e9
            kids = sum(b[pid] - a.get(pid, b[pid]) for (_, a), (_, b) in zip(gap_probe.machine, gap_probe.machine[1:],
                                                                            strict=False) for pid in b)
            print(f"over the run's {probed_s:.2f} s: the machine's cores busy {(busy1 - busy0) / 1e9:.2f} s of "
                  f"{probed_s * (os.cpu_count() or 1):.2f}, this process's children (workers, watcher) "
                  f"{kids / 1e9:.2f} s")
    gaps = np.diff(fired) * 1e3 if len(fired) > 1 else np.zeros(0)
    print(json.dumps({"breakdown": breakdown, "watcher_cpu_s": gap_probe.watcher_cpu_s if gap_probe else None,
                      "run_s": span[-1] - span[0] if len(span) == 2 else None,
                      "cpu_s": cpu[-1] - cpu[0] if len(cpu) == 2 else None, "gaps_ms": gaps.tolist(),
                      "threads_cpu_s": cpu_since(*threads) if len(threads) >= 2 else {},
                      "lead_cpu_s": trail.lead_cpu(window.timeline),
                      "phases_s": phases(window.timeline, marks)}))


def phases(tl, marks: list[int]) -> dict[str, float]:  # noqa: ANN001 - a Timeline
    """Where a run's span went: from Run to the first task's start, the tasks (first start to last
    end), from the last end to the end shown; ``marks``: monotonic_ns at Run and at the end shown."""
    started, ended = tl.start_ns[tl.start_ns >= 0], tl.end_ns[tl.end_ns >= 0]
    if len(marks) != 2 or not len(started) or not len(ended):
        return {}
    first, last = int(started.min()), int(ended.max())
    out = {"lead": (first - marks[0]) / 1e9, "tasks": (last - first) / 1e9, "tail": (marks[1] - last) / 1e9}
    workers = [lane for lane in tl.lanes if lane.created_ns >= 0 and lane.ready_ns >= 0]
    if workers:  # the lead's parts: Run -> the first worker created, -> the first worker ready
        out["created"] = (min(lane.created_ns for lane in workers) - marks[0]) / 1e9
        out["ready"] = (min(lane.ready_ns for lane in workers) - marks[0]) / 1e9
    return out


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process so far (the kernel's schedstat, ns), by Python
    thread name, else by the kernel's name (Qt's threads; a Python thread that is ending), with the id.
    Cheap (one small read a thread): the window's child takes a reading on its GUI thread."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for entry in os.listdir("/proc/self/task"):
        tid = int(entry)
        try:
            with open(f"/proc/self/task/{entry}/schedstat", "rb") as f:
                ns = int(f.read().split()[0])
            if tid not in names:
                with open(f"/proc/self/task/{entry}/comm", "rb") as f:
                    names[tid] = f.read().decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        out[f"{names[tid]} [{tid}]"] = ns / 1e9
    return out


def cpu_since(before: dict[str, float], *later: dict[str, float]) -> dict[str, float]:
    """CPU seconds each thread used since the :func:`thread_cpu` reading ``before``, as the latest of the
    ``later`` readings that saw it says (a thread that ended is counted up to its last reading), by
    name without the thread id, summed over threads of one name."""
    seen: dict[str, float] = {}
    for reading in later:
        seen.update(reading)
    out: dict[str, float] = {}
    for key, s in seen.items():
        name = key.rsplit(" [", 1)[0]
        out[name] = round(out.get(name, 0.0) + s - before.get(key, 0.0), 4)
    return out


LEAD_CPU_ENV = "BENCH_GUI_LEAD_CPU"  # set by bench_gui.py --lead-cpu: the children keep a CpuTrail


class CpuTrail:
    """This process's threads' CPU (:func:`thread_cpu`), read every ``period_s`` on a thread of its
    own from :meth:`start` to :meth:`stop`, so a phase's CPU can be told afterwards (the lead's:
    Run -> the first task's start, a moment known only once the run is over). Its own reads cost
    a few tens of µs each, in both contenders."""

    def __init__(self, period_s: float = 0.01) -> None:
        self.period_s = period_s
        self.readings: list[tuple[int, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-trail", daemon=True)

    def start(self) -> None:
        """Take a first reading now, then read on (only with ``LEAD_CPU_ENV`` set: the reads cost)."""
        if not os.environ.get(LEAD_CPU_ENV):
            return
        self.readings.append((time.monotonic_ns(), thread_cpu()))
        self._thread.start()

    def stop(self) -> None:
        """Stop reading."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.readings.append((time.monotonic_ns(), thread_cpu()))

    def lead_cpu(self, tl) -> dict[str, float]:  # noqa: ANN001 - a Timeline
        """CPU seconds by thread from the first reading to the last one at or before ``tl``'s first
        task start (empty if no task started), without this trail's own thread."""
        started = tl.start_ns[tl.start_ns >= 0]
        if not len(started) or not self.readings:
            return {}
        first = int(started.min())
        upto = [r for t, r in self.readings if t <= first]
        out = cpu_since(self.readings[0][1], upto[-1]) if upto else {}
        out.pop("cpu-trail", None)
        return out


def headless_child(config_path: str) -> None:
    """(In a child process.) The run with no window, as ``procviz run`` drives it; print its span as JSON."""
    from procviz.engine.config import parse_config
    from procviz.engine.events import RunPhase
    from procviz.engine.runner import Engine
    from procviz.engine.timeline import Timeline

    engine, timeline = Engine(), Timeline()
    t, c, threads, marks = time.perf_counter(), time.process_time(), thread_cpu(), [time.monotonic_ns()]
    trail = CpuTrail()
    trail.start()
    engine.start(parse_config(json.loads(Path(config_path).read_text())))
    finished = False
    while not finished:
        batch = engine.events.get()
        timeline.apply(batch, notify=False)
        finished = batch.status is not None and batch.status.phase == RunPhase.FINISHED
    last = thread_cpu()  # the engine thread is about to end: its time is read here
    trail.stop()
    engine.join(10)
    marks.append(time.monotonic_ns())
    print(json.dumps({"run_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                      "threads_cpu_s": cpu_since(threads, last, thread_cpu()),
                      "lead_cpu_s": trail.lead_cpu(timeline),
                      "phases_s": phases(timeline, marks)}))


def _child_figures(stdout: str) -> dict | None:
    """The JSON figures a child prints last, or None if it printed none (it died first)."""
    lines = stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


@dataclass
class WholeRun:
    """One whole-process run of the alternation: its wall time and what the child printed."""

    wall_s: float
    run_s: float = float("nan")
    cpu_s: float = float("nan")
    gaps_ms: np.ndarray | None = None
    threads_cpu_s: dict[str, float] | None = None
    phases_s: dict[str, float] | None = None
    lead_cpu_s: dict[str, float] | None = None  # by thread, Run -> the first task's start


def _gap_stats(gaps: np.ndarray) -> str:
    if not len(gaps):
        return "– / – / –"
    return f"{np.median(gaps):.0f} / {np.percentile(gaps, 95):.0f} / {gaps.max():.0f}"


def _median_ratio(num: list[float], den: list[float]) -> str:
    ratios = [a / b for a, b in zip(num, den, strict=True) if b > 0]
    if not ratios:
        return "–"
    return f"{statistics.median(ratios):.2f}x (spread {min(ratios):.2f}-{max(ratios):.2f})"


def bench_whole(tasks: int, workers: int, chunksize: int, pairs: int, baseline: str | None = None) -> None:
    """Whole processes, alternated: the run in the window vs ``procviz run`` without one.

    ``baseline``: a git revision of this repository whose window runs as one more contender (its
    tree unpacked and put first on ``PYTHONPATH``, as compare.py's ``--baseline`` does; the same
    child code here drives it), so one command gives an A/B of a change under the same load."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="procviz-baseline-") as old:
        cfg = Path(tmp) / "config.json"
        cfg.write_text(json.dumps(whole_config(tasks, workers, chunksize)))
        window_cmd = [sys.executable, __file__, "--window-child", str(cfg)]
        contenders: dict[str, tuple[list[str], dict[str, str]]] = {"window": (window_cmd, env)}
        base = ""
        if baseline:
            from compare import unpack_baseline

            base = f"window@{unpack_baseline(baseline, old)}"
            contenders[base] = (window_cmd, {**env, "PYTHONPATH": os.pathsep.join(
                filter(None, [old, env.get("PYTHONPATH")]))})
        contenders["headless"] = ([sys.executable, "-m", "procviz", "run", "--config", str(cfg), "--quiet",
                                   "--out", str(Path(tmp) / "t.json")], env)
        contenders["engine"] = ([sys.executable, __file__, "--headless-child", str(cfg)], env)
        runs: dict[str, list[WholeRun]] = {name: [] for name in contenders}
        for k in range(pairs):
            got: dict[str, WholeRun] = {}
            for name in list(contenders)[:: 1 if k % 2 == 0 else -1]:
                cmd, child_env = contenders[name]
                t = time.perf_counter()
                out = subprocess.run(cmd, env=child_env, capture_output=True, text=True, timeout=600)
                got[name] = WholeRun(time.perf_counter() - t)
                if out.returncode != 0:
                    print(f"  {name} exited {out.returncode}: {out.stderr.strip()[-400:]}")
                if name == "headless":
                    continue
                child = _child_figures(out.stdout)
                if child is None:  # it died before its figures: this pair has nothing to compare
                    print(f"  {name} printed no figures (exit code {out.returncode}): pair {k + 1} left out")
                    break
                got[name] = WholeRun(got[name].wall_s, child["run_s"], child.get("cpu_s") or float("nan"),
                                     np.asarray(child.get("gaps_ms", [])), child.get("threads_cpu_s") or {},
                                     child.get("phases_s") or {}, child.get("lead_cpu_s") or {})
            else:
                for name, run in got.items():
                    runs[name].append(run)
    windows = [n for n in contenders if n.startswith("window")]
    print(f"\nwhole process, {tasks:,} no-op CPU tasks, {workers} spawn workers, map chunksize {chunksize}, "
          f"alternated ({os.getloadavg()[0]:.2f} load after)")
    print("whole: the window child (Qt start-up included) vs `procviz run`; run: from Run to the end shown, vs the "
          "same run driven without a window (engine + one Timeline, as the CLI does); gaps: between ticks of a "
          "10 ms GUI timer during the run, ms median / p95 / max")
    print(f"{'pair':>4}  {'contender':<18} {'whole s':>8} {'run s':>6} {'= lead + tasks + tail':>22} "
          f"{'parent CPU s':>12}  gaps")
    for k in range(len(runs["engine"])):
        for name in contenders:
            r = runs[name][k]
            ph = r.phases_s or {}
            split = " + ".join(f"{ph[p]:.3f}" for p in ("lead", "tasks", "tail")) if ph else ""
            print(f"{k:>4}  {name:<18} {r.wall_s:>8.2f} {r.run_s:>6.2f} {split:>22} {r.cpu_s:>12.2f}  "
                  + (_gap_stats(r.gaps_ms) if r.gaps_ms is not None and name in windows else ""))
    if not runs["engine"]:
        print("no complete pair: nothing to compare")
        return
    for name in windows + ["engine"]:
        by_thread: dict[str, list[float]] = {}
        for r in runs[name]:
            for thread, s in (r.threads_cpu_s or {}).items():
                by_thread.setdefault(thread, []).append(s)
        shown = sorted(((statistics.median(v + [0.0] * (len(runs[name]) - len(v))), t) for t, v in by_thread.items()),
                       reverse=True)
        split = [r.phases_s for r in runs[name] if r.phases_s]
        if split:
            lead, tasks, tail = (statistics.median(p[key] for p in split) for key in ("lead", "tasks", "tail"))
            boot = [p for p in split if "ready" in p]
            ready = (f" (the first worker created at {statistics.median(p['created'] for p in boot):.3f}, ready at "
                     f"{statistics.median(p['ready'] for p in boot):.3f})") if boot else ""
            print(f"{name}: median s from Run to the first task's start {lead:.3f}{ready}, the tasks {tasks:.3f}, "
                  f"from the last task's end to the end shown {tail:.3f}")
        print(f"{name}: CPU during the run by thread, median s: "
              + ", ".join(f"{t} {s:.3f}" for s, t in shown if s >= 0.002))
        lead_by: dict[str, list[float]] = {}
        for r in runs[name]:
            for thread, s in (r.lead_cpu_s or {}).items():
                lead_by.setdefault(thread, []).append(s)
        if lead_by:
            lead_shown = sorted(((statistics.median(v + [0.0] * (len(runs[name]) - len(v))), t)
                                 for t, v in lead_by.items()), reverse=True)
            print(f"{name}: CPU in the lead (Run -> the first task's start) by thread, median s: "
                  + ", ".join(f"{t} {s:.3f}" for s, t in lead_shown if s >= 0.002))
    for name in windows:
        w, e, h = runs[name], runs["engine"], runs["headless"]
        gaps = np.concatenate([r.gaps_ms for r in w if r.gaps_ms is not None] or [np.zeros(0)])
        print(f"{name}: median run ratio to headless {_median_ratio([r.run_s for r in w], [r.run_s for r in e])}; "
              f"parent CPU {statistics.median(r.cpu_s for r in w):.2f} s vs "
              f"{statistics.median(r.cpu_s for r in e):.2f} s; whole-process ratio "
              f"{_median_ratio([r.wall_s for r in w], [r.wall_s for r in h])}; timer gaps over all its runs: "
              f"{_gap_stats(gaps)} ms, {int((gaps > 50).sum())} of {len(gaps)} over 50 ms")
    if base:
        new, was = runs["window"], runs[base]
        print(f"this window / {base}, per pair: run {_median_ratio([r.run_s for r in new], [r.run_s for r in was])}"
              f"; parent CPU {_median_ratio([r.cpu_s for r in new], [r.cpu_s for r in was])}")


def bench_gaps(tasks: int, workers: int, chunksize: int, runs: int, baseline: str | None = None,
               gui_nice: int | None = None) -> None:
    """``runs`` window children with the gap probe (alternated with ``baseline``'s window when given): each
    long gap between ticks broken down, and the totals by part over all runs, per contender.

    ``gui_nice``: also alternate this window with its GUI thread at that nice value (negative needs
    privileges): a diagnosis, not a setting procviz could ship - if the long gaps are the kernel
    sharing the cores out, a GUI thread it favours has none of them."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="procviz-baseline-") as old:
        cfg = Path(tmp) / "config.json"
        cfg.write_text(json.dumps(whole_config(tasks, workers, chunksize)))
        cmd = [sys.executable, __file__, "--window-child", str(cfg), "--gaps"]
        contenders = {"window": env}
        if baseline:
            from compare import unpack_baseline

            contenders[f"window@{unpack_baseline(baseline, old)}"] = {
                **env, "PYTHONPATH": os.pathsep.join(filter(None, [old, env.get("PYTHONPATH")]))}
        if gui_nice is not None:
            contenders[f"window, GUI thread at nice {gui_nice}"] = {**env, "PROCVIZ_BENCH_GUI_NICE": str(gui_nice)}
        got: dict[str, tuple[list[dict], list[float], list[float]]] = {n: ([], [], []) for n in contenders}
        for k in range(runs):
            for name in list(contenders)[:: 1 if k % 2 == 0 else -1]:
                load = os.getloadavg()[0]
                out = subprocess.run(cmd, env=contenders[name], capture_output=True, text=True, timeout=600)
                child = _child_figures(out.stdout)
                if child is None:
                    print(f"  {name} run {k + 1} printed no figures (exit {out.returncode}): {out.stderr[-400:]}")
                    continue
                gaps = np.asarray(child["gaps_ms"])
                print(f"{name} run {k + 1} (load {load:.2f}): run {child['run_s']:.2f} s, gaps {_gap_stats(gaps)} ms "
                      f"(the watcher child's CPU {child.get('watcher_cpu_s') or 0:.2f} s)")
                print(gap_report(child["breakdown"], len(gaps) + 1))
                got[name][0].extend(child["breakdown"])
                got[name][1].extend(gaps.tolist())
                got[name][2].append(child["run_s"])
    print(f"\n{tasks:,} no-op CPU tasks, {workers} spawn workers, chunksize {chunksize}; load after "
          f"{os.getloadavg()[0]:.2f}")
    for name, (rows, gaps, spans) in got.items():
        g = np.asarray(gaps)
        print(f"{name}: {len(spans)} runs, median run {statistics.median(spans) if spans else float('nan'):.2f} s, "
              f"gaps {_gap_stats(g)} ms, {int((g > 50).sum())} of {len(g)} over 50 ms; all of its runs:")
        print(gap_report(rows, len(g) + len(spans)))


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    name_main_as_the_launcher()  # its workers must not run this script again (launcher_name.py)
    if sys.argv[1:2] == ["--window-child"]:
        window_child(sys.argv[2], gaps="--gaps" in sys.argv[3:])
    elif sys.argv[1:2] == ["--headless-child"]:
        headless_child(sys.argv[2])
    else:
        sys.exit("a child of benchmarks/bench_gui.py --only-whole: --window-child CONFIG | --headless-child CONFIG")
