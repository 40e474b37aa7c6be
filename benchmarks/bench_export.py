"""Export (and re-open) speed of timeline files for a synthetic 1,000,000-task run.

Builds a Timeline the way the engine does (EngineBatches through Timeline.apply): N tasks on 16
worker lanes, 2% failed with error texts, 1% cancelled before starting, OS-state intervals and
resource samples. Then, for each format, times ``write_timeline`` and ``read_timeline`` and reports
the file size and the peak extra memory of the write (resident memory of a forked child running the
same write again, see ``peak_mb``). Each format is set beside a plain reference written in
the same run:

* native JSON vs ``json.dump`` of the same columns as plain lists;
* CSV vs a naive ``csv.writer`` loop formatting each row in Python;
* Chrome trace vs building the event dicts and ``json.dump``-ing the list.

Usage: ``python benchmarks/bench_export.py [--tasks N] [--no-memory] [--no-reference]``. Whole
processes (``procviz export``, interpreter start and imports included): ``python benchmarks/compare.py
--exports-only``; or ``--whole ROUNDS [--against DIR] [--only chrome]``: the same three ``procviz export``
commands as compare.py (or the one whose label contains ``--only``), alternated with the procviz found
under ``DIR`` (a folder holding a ``procviz`` package, e.g. an unpacked ``git archive main``), medians
of wall, CPU and peak memory per side.
Timings, not assertions: tests never time anything.
"""

from __future__ import annotations

import argparse
import compileall
import csv
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from procviz.engine.events import (  # noqa: E402
    END_DTYPE,
    INTERVAL_DTYPE,
    RESOURCE_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    TaskState,
    TaskText,
)
from procviz.engine.formats import read_timeline, write_timeline  # noqa: E402
from procviz.engine.formats.fileio import MAX_FILE_BYTES  # noqa: E402
from procviz.engine.formats.model import TASK_STATE_NAMES  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402

LANES = 16
T0 = 10**12


def build(n: int) -> Timeline:
    """A finished n-task run on LANES workers (see the module docstring)."""
    rng = np.random.default_rng(1)
    lane = (np.arange(n) % LANES).astype(np.int32)
    wall = rng.integers(200_000, 2_000_000, n)
    start = np.empty(n, np.int64)
    for k in range(LANES):  # back to back per lane
        ids = np.flatnonzero(lane == k)
        start[ids] = T0 + 50_000_000 + np.r_[0, np.cumsum(wall[ids][:-1] + 20_000)]
    end = start + wall
    cancelled = rng.random(n) < 0.01
    failed = ~cancelled & (rng.random(n) < 0.02)
    state = np.where(cancelled, TaskState.CANCELLED, np.where(failed, TaskState.FAILED, TaskState.DONE))
    run = RunInfo(n_tasks=n, t0_ns=T0, config={"workers": LANES, "workload": {"kind": "cpu", "count": n}},
                  host="bench", cpu_count=LANES, schedstat=True, cost_ms=tuple((wall / 1e6).round(3).tolist()),
                  chunks=tuple((np.arange(n) // 64).tolist()))
    lanes = tuple(LaneInfo(index=k, pid=5000 + k, tid=5000 + k, kind="process", name=f"worker {k}",
                           created_ns=T0 + k * 1_000_000, ready_ns=T0 + 40_000_000) for k in range(LANES))
    sub = np.zeros(n, SUBMIT_DTYPE)
    sub["task_id"], sub["t_ns"] = np.arange(n), T0 + 1_000_000 + np.arange(n) * 10
    ran = np.flatnonzero(~cancelled)
    st = np.zeros(len(ran), START_DTYPE)
    st["task_id"], st["lane"], st["t_ns"] = ran, lane[ran], start[ran]
    en = np.zeros(n, END_DTYPE)
    en["task_id"], en["state"] = np.arange(n), state
    en["lane"] = np.where(cancelled, -1, lane)
    en["start_ns"] = -1
    en["end_ns"] = np.where(cancelled, -1, end)
    en["cpu_ns"] = np.where(cancelled, -1, wall * 9 // 10)
    en["ready_ns"] = np.where(cancelled, -1, wall // 20)
    texts = tuple(TaskText(int(i), "error", "ValueError", f"bad input {i}", "Traceback ...\nValueError")
                  for i in np.flatnonzero(failed))
    last = int(end.max())
    iv_t = np.arange(T0 + 40_000_000, last, 250_000_000)
    iv = np.zeros(len(iv_t) * LANES, INTERVAL_DTYPE)
    iv["lane"] = np.repeat(np.arange(LANES), len(iv_t))
    iv["state"] = 2
    iv["start_ns"] = np.tile(iv_t, LANES)
    iv["end_ns"] = iv["start_ns"] + 250_000_000
    iv["cpu_ns"] = 220_000_000
    iv["ready_ns"] = 10_000_000
    res_t = np.arange(T0 + 40_000_000, last, 100_000_000)
    res = np.zeros(len(res_t) * LANES, RESOURCE_DTYPE)
    res["lane"] = np.repeat(np.arange(LANES), len(res_t))
    res["t_ns"] = np.tile(res_t, LANES)
    res["cpu_pct"] = 97.5
    res["rss"] = 40 << 20
    tl = Timeline()
    tl.apply(EngineBatch(run=run, lanes=lanes, submitted=sub), notify=False)
    tl.apply(EngineBatch(started=st), notify=False)
    tl.apply(EngineBatch(ended=en, texts=texts, intervals=iv, resources=res, now_ns=last + 1_000_000), notify=False)
    return tl


# ---- references: the straightforward way, same content ----------------------------------------------


def ref_native(tl: Timeline, path: str) -> None:
    """json.dump of the same columns as plain Python lists."""
    doc = {"run": {"n_tasks": tl.n_tasks, "t0_ns": tl.t0_ns},
           "tasks": {name: [None if isinstance(v, float) and v != v else v for v in getattr(tl, name).tolist()]
                     for name in Timeline.TASK_COLUMNS},
           "texts": [[i, t.kind, t.type_name, t.message, t.traceback] for i, t in tl.texts.items()],
           "intervals": tl.intervals.data.tolist(), "resources": tl.resources.data.tolist()}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh)


def ref_csv(tl: Timeline, path: str) -> None:
    """A csv.writer loop formatting each task's row in Python."""
    t0 = tl.t0_ns
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "state", "reason", "pid", "lane", "chunk", "args", "submitted_s", "start_s", "end_s",
                    "queued_ms", "cpu_ms", "ready_ms", "waiting_ms"])
        for i in range(tl.n_tasks):
            lane = int(tl.lane[i])
            text = tl.texts.get(i)

            def sec(v: int) -> str:
                """Seconds from the run start, or empty."""
                return f"{(v - t0) / 1e9:.9f}" if v >= 0 else ""

            def ms(v: int) -> str:
                """Milliseconds, or empty."""
                return f"{v / 1e6:.6f}" if v >= 0 else ""

            s, e, c, r = int(tl.start_ns[i]), int(tl.end_ns[i]), int(tl.cpu_ns[i]), int(tl.ready_ns[i])
            w.writerow([i, TASK_STATE_NAMES[tl.state[i]], f"{text.type_name}: {text.message}" if text else "",
                        tl.lanes[lane].pid if lane >= 0 else "", lane if lane >= 0 else "", int(tl.chunk[i]),
                        tl.arg_text(i), sec(int(tl.submitted_ns[i])), sec(s), sec(e),
                        ms(s - int(tl.submitted_ns[i])) if s >= 0 else "", ms(c), ms(r),
                        ms(e - s - c - max(r, 0)) if e >= 0 and c >= 0 else ""])


def ref_chrome(tl: Timeline, path: str) -> None:
    """Event dicts for the tasks and their queued time, then one json.dump of the list."""
    t0 = tl.t0_ns
    events: list[dict] = []
    for i in range(tl.n_tasks):
        s, e, lane = int(tl.start_ns[i]), int(tl.end_ns[i]), int(tl.lane[i])
        sub = int(tl.submitted_ns[i])
        if s >= 0 and lane >= 0:
            info = tl.lanes[lane]
            events.append({"ph": "X", "cat": "task", "name": f"task {i}", "pid": info.pid, "tid": info.tid,
                           "ts": (s - t0) / 1000, "dur": (max(e, s) - s) / 1000,
                           "args": {"task": i, "state": TASK_STATE_NAMES[tl.state[i]], "chunk": int(tl.chunk[i])}})
        if sub >= 0:
            left = s if s >= 0 else sub
            events.append({"ph": "b", "cat": "queue", "name": "queued", "id": hex(i), "pid": 1, "tid": 1,
                           "ts": (sub - t0) / 1000, "args": {"task": i}})
            events.append({"ph": "e", "cat": "queue", "name": "queued", "id": hex(i), "pid": 1, "tid": 1,
                           "ts": (left - t0) / 1000})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, fh)


# ---- measuring -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_read(path: str) -> tuple[float, float, float]:
    """Wall and CPU seconds of ``read_timeline(path)``, and the wall seconds until its task bars were
    handed out (``on_tasks``; nan for formats that hand out none)."""
    gc.collect()
    bars: list[float] = []
    t, c = time.perf_counter(), time.process_time()
    read_timeline(path, on_tasks=lambda _: bars.append(time.perf_counter()))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return wall, cpu, (bars[0] - t) if bars else float("nan")


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def peak_mb(fn: Callable[[], object]) -> float:
    """Peak extra resident memory of ``fn()``, in MB, measured in a forked child.

    The child starts with the parent's pages (the timeline) already resident; its peak-RSS counter
    is reset (/proc/self/clear_refs, Linux), so peak minus start is what ``fn`` itself needed, numpy
    and C buffers included, at full speed (tracemalloc would slow Python-heavy code several times).
    Elsewhere: tracemalloc (Python and numpy allocations only).
    """
    if not os.path.exists("/proc/self/clear_refs"):
        gc.collect()
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_end)
            gc.collect()
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset VmHWM to the current RSS
            start = _status_kb("VmRSS")
            fn()
            os.write(write_end, str(_status_kb("VmHWM") - start).encode())
        except BaseException:  # noqa: BLE001 - report nothing; the parent prints nan
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return int(text) / 1024 if text else float("nan")


def _content_bytes(path: str) -> int:
    """The file's size, or for gzip the size it decompresses to (the readers' limit applies to that):
    the gzip trailer's ISIZE, exact below 4 GiB."""
    if not path.endswith(".gz"):
        return os.path.getsize(path)
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        return int.from_bytes(fh.read(4), "little")


def whole(rounds: int, n: int, against: str | None, only: str | None = None) -> None:
    """``procviz export`` whole processes (JSON -> CSV, JSON -> Chrome trace, CSV -> JSON) on an
    ``n``-task run recorded by procviz, alternated with the procviz under ``against`` when given;
    ``only``: the one step whose label contains it (``chrome``), the others skipped."""
    import statistics
    import subprocess

    from compare import compile_procviz  # (this folder: byte-compile as compare.py does)

    proc = str(Path(__file__).resolve().parent / "_proc.py")
    sides = {"this": None, **({"against": against} if against else {})}
    # With PYTHONDONTWRITEBYTECODE (set on this machine) an editable procviz is compiled from source
    # in every process: a cost no installed procviz has, and one the other side may not pay.
    compile_procviz()
    if against:
        compileall.compile_dir(str(Path(against) / "procviz"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="procviz-bench-whole-") as d:
        native, csv_file = os.path.join(d, "t.json"), os.path.join(d, "t.csv")
        subprocess.run([sys.executable, proc, "procviz", "run", "--backend", "pool", "--workers", "2", "--kind", "cpu",
                        "--count", str(n), "--duration-ms", "0", "--chunksize", "1000", "--quiet", "--out", native],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, proc, "procviz", "export", native, "--out", csv_file], check=True,
                       stdout=subprocess.DEVNULL)
        steps = {"JSON -> CSV": [native, "--out", os.path.join(d, "o.csv")],
                 "JSON -> Chrome trace": [native, "--out", os.path.join(d, "o.trace.json")],
                 "CSV -> JSON": [csv_file, "--out", os.path.join(d, "o.json")]}
        if only:
            steps = {k: v for k, v in steps.items() if only.lower() in k.lower()}
        got: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        load_start = os.getloadavg()[0]
        for r in range(rounds):
            for side in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                if sides[side]:
                    env["PYTHONPATH"] = str(sides[side])
                for label, step in steps.items():
                    t = time.perf_counter()
                    child = subprocess.Popen([sys.executable, proc, "procviz", "export", *step], env=env,
                                             stdout=subprocess.DEVNULL)
                    _, status, ru = os.wait4(child.pid, 0)
                    if status:
                        raise SystemExit(f"procviz export failed ({side}, {label})")
                    got.setdefault((label, side), []).append(
                        (time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
                         os.path.getsize(step[2]) / 1e6))
    print(f"{n:,} tasks, {rounds} rounds, load average at the start {load_start:.1f}, at the end "
          f"{os.getloadavg()[0]:.1f} (2 cores)")
    for label in steps:
        for side in sides:
            runs = got[(label, side)]
            wall, cpu, peak, size = (statistics.median(x[k] for x in runs) for k in range(4))
            print(f"{label:<22}{side:<9} wall {wall:5.2f} s (min {min(x[0] for x in runs):.2f})  CPU {cpu:5.2f} s "
                  f"(min {min(x[1] for x in runs):.2f})  peak {peak:4.0f} MiB  file {size:4.0f} MB")


def main() -> None:
    """Build the timeline, measure every format, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference writers")
    parser.add_argument("--whole", type=int, metavar="ROUNDS", help="time whole procviz export processes instead")
    parser.add_argument("--against", help="with --whole: a folder holding another procviz package to alternate with")
    parser.add_argument("--only", help="with --whole: only the step whose label contains this (csv, chrome, json)")
    args = parser.parse_args()
    if args.whole:
        whole(args.whole, args.tasks, args.against, args.only)
        return
    t = time.perf_counter()
    tl = build(args.tasks)
    columns_mb = sum(getattr(tl, c).nbytes for c in Timeline.TASK_COLUMNS) / 1e6
    print(f"built {tl.n_tasks:,} tasks on {LANES} lanes, {len(tl.texts):,} error texts, "
          f"{len(tl.intervals):,} intervals, {len(tl.resources):,} samples in {time.perf_counter() - t:.1f} s "
          f"(task columns: {columns_mb:.0f} MB)")
    try:
        import orjson  # noqa: F401

        print("orjson: installed")
    except ImportError:
        print("orjson: not installed (stdlib json fallback)")
    cases = [("native .json", "run.json", ref_native), ("csv", "run.csv", ref_csv),
             ("chrome .trace.json", "run.trace.json", ref_chrome), ("chrome .json.gz", "run.json.gz", None)]
    fsyncs: list[float] = []
    real_fsync = os.fsync

    def timed_fsync(fd: int) -> None:
        """os.fsync, timed: what the atomic write's durability costs after its last write."""
        t = time.perf_counter()
        real_fsync(fd)
        fsyncs.append(time.perf_counter() - t)

    os.fsync = timed_fsync  # (this process only: the writes below)
    header = (f"{'format':<20}{'write s':>9}{'fsync s':>8}{'MB':>9}{'peak MB':>9}{'read s':>8}{'read CPU':>9}"
              f"{'bars s':>8}{'ref write s':>13}{'ref MB':>9}{'ref peak MB':>13}{'speedup':>9}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as d:
        for label, name, ref in cases:
            path = os.path.join(d, name)
            fsyncs.clear()
            w = timed(lambda p=path: write_timeline(tl, p))
            sync = sum(fsyncs)
            size = os.path.getsize(path) / 1e6
            # A file over the readers' size limit (a 1M-task Chrome trace is ~0.5 GB; see fileio) is
            # refused by design: its read time is not measured.
            over = _content_bytes(path) > MAX_FILE_BYTES
            r, r_cpu, bars = (float("nan"),) * 3 if over else timed_read(path)
            peak = float("nan") if args.no_memory else peak_mb(lambda p=path: write_timeline(tl, p))
            os.unlink(path)
            ref_cols = f"{'':>13}{'':>9}{'':>13}{'':>9}"
            read_cols = f"{r:>8.2f}{r_cpu:>9.2f}{bars:>8.2f}"
            if ref is not None and not args.no_reference:
                rpath = os.path.join(d, "ref-" + name)
                rw = timed(lambda f=ref, p=rpath: f(tl, p))
                rsize = os.path.getsize(rpath) / 1e6
                rpeak = float("nan") if args.no_memory else peak_mb(lambda f=ref, p=rpath: f(tl, p))
                os.unlink(rpath)
                ref_cols = f"{rw:>13.2f}{rsize:>9.1f}{rpeak:>13.0f}{rw / w:>8.1f}x"
            print(f"{label:<20}{w:>9.2f}{sync:>8.3f}{size:>9.1f}{peak:>9.0f}{read_cols}{ref_cols}", flush=True)
    print("fsync s: of the write s, the atomic write's fsync after its last write (fileio.atomic_output).")
    print("peak MB: extra resident memory while writing (forked child, peak RSS - RSS at start).")
    print("read CPU: CPU seconds of the read (two threads may make it exceed the wall time); bars s: when the")
    print("read handed out the task bars (read_timeline's on_tasks: native files only).")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores; figures swing with it).")
    print(f"read s: nan where the file is over the readers' limit ({MAX_FILE_BYTES >> 20} MiB): refused by design.")
    print("speedup: reference write time / procviz write time. The references write less (no names, states,")
    print("counters or embedded timeline in the Chrome one), so the ratios understate the difference.")


if __name__ == "__main__":
    main()
