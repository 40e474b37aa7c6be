"""Where the GUI thread's long slices go: a stack sampler for the window's benchmarks.

A daemon thread samples the GUI thread's Python stack every ``interval_s`` (``sys._current_frames``),
and a 10 ms QTimer on the GUI thread notes when it fires. A gap between two firings longer than
``threshold_ms`` is a stall; the samples taken inside it say what the GUI thread was doing. The
report sums, per stall, the stall's length onto the procviz functions seen on its samples
(the innermost procviz frame, the outermost one: the slot or handler that was running, and
every procviz frame on the stack), so
the biggest causes come first. Sampling needs the GIL: a stall spent in C code that holds it shows
the Python frame that called that code, which is what one wants to cut anyway.

:class:`GapProbe` (``bench_gui.py --gaps``) tells what each long gap was without sampling stacks
(whose own GIL use would blur it): the GUI thread's on-CPU and run-queue time (its ``schedstat``),
its sleep split by a watcher child process into futex (the GIL) and poll (Qt's idle loop), the
other threads' CPU, collections (``gc.callbacks``), the procviz handlers that ran
(:class:`SlotTimer`), and who had the cores (the machine's busy time, this process and its workers).

Used by ``bench_gui.py --stalls`` and ``--gaps``; nothing here is a test.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType

ROOT = str(Path(__file__).resolve().parents[1])  # the checkout procviz runs from (an editable install)
BENCH = str(Path(__file__).resolve().parent)


def _where(frame: FrameType) -> str:
    name = frame.f_code.co_filename
    return f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{frame.f_code.co_name}"


def _frames(frame: FrameType | None) -> list[str]:
    """The procviz frames of a stack, innermost first, as 'folder/file:function'; with none, the
    innermost Python frame in brackets (pyqtgraph, the stdlib), or nothing (Qt's C++ or the event loop)."""
    out: list[str] = []
    innermost = frame
    while frame is not None:
        code = frame.f_code
        name = code.co_filename
        if (name.startswith(ROOT) or "/procviz/" in name) and not name.startswith(BENCH):
            out.append(_where(frame))
        frame = frame.f_back
    if not out and innermost is not None:
        out.append(f"[{_where(innermost)}]")
    return out


class StallSampler:
    """Samples the GUI thread's stack; :meth:`report` attributes the stalls between probe ticks."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.tid = threading.main_thread().ident
        self.interval_s = interval_s
        self.samples: list[tuple[float, tuple[str, ...], tuple[str, ...]]] = []
        self.ticks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)

    def start(self) -> None:
        """Start sampling (call on the GUI thread; connect :meth:`tick` to a 10 ms timer)."""
        self._thread.start()

    def tick(self) -> None:
        """The probe timer fired (GUI thread)."""
        self.ticks.append(time.perf_counter())

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            frames = sys._current_frames()  # noqa: SLF001 - the point of this tool
            others = tuple(stack[0] for tid, f in frames.items()
                           if tid not in (self.tid, threading.get_ident()) and (stack := _frames(f)))
            self.samples.append((time.perf_counter(), tuple(_frames(frames.get(self.tid))), others))

    def report(self, threshold_ms: float = 30.0, top: int = 15) -> str:
        """The stalls' total time by innermost and by outermost procviz function."""
        inner: Counter[str] = Counter()
        outer: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        others: Counter[str] = Counter()
        stalls = []
        k = 0
        for a, b in zip(self.ticks, self.ticks[1:], strict=False):
            gap_ms = (b - a) * 1e3
            if gap_ms <= threshold_ms:
                continue
            stalls.append(gap_ms)
            while k < len(self.samples) and self.samples[k][0] < a:
                k += 1
            inside = []
            j = k
            while j < len(self.samples) and self.samples[j][0] <= b:
                inside.append(self.samples[j][1])
                for name in self.samples[j][2]:
                    others[name] += 1
                j += 1
            if not inside:
                inner["(no sample)"] += gap_ms
                continue
            share = gap_ms / len(inside)
            for stack in inside:
                inner[stack[0] if stack else "(no Python frame: Qt, the event loop, or waiting for the GIL)"] += share
                outer[stack[-1] if stack else "(no Python frame: Qt, the event loop, or waiting for the GIL)"] += share
                for name in set(stack):
                    inclusive[name] += share
        lines = [f"{len(stalls)} stalls over {threshold_ms:.0f} ms, {sum(stalls):.0f} ms in all"
                 + (f", longest {max(stalls):.0f} ms" if stalls else "")]
        for title, counter in (("innermost procviz frame", inner), ("outermost procviz frame (the slot)", outer),
                               ("any procviz frame on the stack (inclusive)", inclusive),
                               ("other threads' innermost frame (samples, not ms)", others)):
            lines.append(f"  by {title}:")
            lines += [f"    {ms:7.0f} ms  {name}" for name, ms in counter.most_common(top)]
        return "\n".join(lines)


def is_handler(name: str) -> bool:
    """Whether a procviz.gui method name is one the event loop calls: a timer's slot, a paint, a signal's handler."""
    return name in {"paintEvent", "paint", "flush", "_paced_fold", "tick", "refresh", "_update", "_update_rate",
                    "resizeEvent"} or \
        name.startswith(("_on_", "on_"))


class SlotTimer:
    """Times every outermost call of a procviz.gui method on the GUI thread (a slot, a handler, a
    paint): wall and thread CPU time, so a long slice's own cost is told apart from the time the
    process spent descheduled on a loaded machine."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, float]] = []  # (name, start, wall s, cpu s)
        self._depth = 0
        self._main = threading.main_thread().ident

    def install(self, only: Callable[[str], bool] | None = None) -> None:
        """Wrap the methods of every class defined in the procviz.gui modules imported so far (``only``: the
        method names to wrap, e.g. the handlers, so that inner calls cost nothing)."""
        import inspect

        for module in [m for name, m in sys.modules.items() if name.startswith("procviz.gui")]:
            for cls in [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]:
                for attr, value in list(vars(cls).items()):
                    if inspect.isfunction(value) and not attr.startswith("__") and (only is None or only(attr)):
                        setattr(cls, attr, self._wrap(f"{module.__name__.removeprefix('procviz.gui.')}."
                                                      f"{cls.__name__}.{attr}", value))

    def _wrap(self, name: str, fn):  # noqa: ANN001, ANN202
        timer = self

        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if threading.get_ident() != timer._main or timer._depth:
                return fn(*args, **kwargs)
            timer._depth += 1
            t, c = time.monotonic(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                timer._depth -= 1
                timer.calls.append((name, t, time.monotonic() - t, time.thread_time() - c))

        wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
        return wrapper

    def report(self, threshold_ms: float = 10.0, top: int = 20) -> str:
        """Slots whose calls took over ``threshold_ms`` wall: count, CPU and wall of those calls, max."""
        slow: dict[str, list[tuple[float, float]]] = {}
        total: Counter[str] = Counter()
        for name, _, wall, cpu in self.calls:
            total[name] += cpu
            if wall * 1e3 > threshold_ms:
                slow.setdefault(name, []).append((wall, cpu))
        rows = sorted(slow.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:top]
        lines = [f"GUI-thread calls over {threshold_ms:.0f} ms wall (CPU = the thread's own time):",
                 f"  {'calls':>5} {'wall ms sum':>11} {'CPU ms sum':>10} {'max wall':>8} {'max CPU':>7}  slot"]
        for name, xs in rows:
            lines.append(f"  {len(xs):>5} {1e3 * sum(w for w, _ in xs):>11.0f} {1e3 * sum(c for _, c in xs):>10.0f} "
                         f"{1e3 * max(w for w, _ in xs):>8.0f} {1e3 * max(c for _, c in xs):>7.0f}  {name}")
        lines.append("  all calls, CPU ms by slot: " + ", ".join(f"{n} {1e3 * c:.0f}" for n, c in total.most_common(8)))
        return "\n".join(lines)


# ---- what each long gap between ticks is: on-CPU, run queue, GIL, idle loop, a collection --------

SYSCALL_KIND = {202: "futex", 7: "poll", 271: "poll", 232: "poll", 281: "poll", 23: "poll", 270: "poll"}  # x86_64
GAP_PARTS = ("gui_cpu", "gui_runq", "futex", "poll", "other_sleep", "unsampled")


def schedstat(path: str) -> tuple[int, int]:
    """(on-CPU ns, run-queue wait ns) of a thread, from its ``schedstat``; (0, 0) if it ended."""
    try:
        with open(path, "rb") as f:
            on_cpu, waited, _ = f.read().split()
        return int(on_cpu), int(waited)
    except (OSError, ValueError):
        return 0, 0


def _watch(pid: int, tids: list[int], out: str) -> None:
    """(In a child process: it needs no GIL of the window's.) Every ~1 ms, note each thread's state and
    the system call it sleeps in (``/proc/<pid>/task/<tid>/syscall``) until stdin closes; pickle the notes."""
    import pickle
    import select

    notes: list[tuple[int, int, str, int]] = []  # (monotonic ns, tid, state letter, syscall nr or -1: running)
    while True:
        if select.select([sys.stdin], [], [], 0.001)[0]:  # a line of more thread ids, or the end
            line = sys.stdin.readline()
            if not line:
                break
            tids += [int(t) for t in line.split()]
        for tid in tids:
            base = f"/proc/{pid}/task/{tid}/"
            try:
                with open(base + "stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0].decode()
                with open(base + "syscall", "rb") as f:
                    call = f.read().split()[0]
            except (OSError, IndexError):
                continue
            notes.append((time.monotonic_ns(), tid, state, int(call) if call.isdigit() else -1))
    with open(out, "wb") as f:
        pickle.dump((notes, time.process_time()), f)  # (its own CPU: it competes for the cores too)


class GapProbe:
    """Tells apart what the GUI thread did between two ticks of the probe timer (see ``report``).

    At each tick (on the GUI thread) it reads every thread's ``schedstat`` (the GUI thread's on-CPU
    and run-queue ns, the others' on-CPU ns); a child process notes every ~1 ms which system call
    the GUI and engine threads sleep in (futex: a lock, in practice the GIL; poll: Qt's idle event
    loop); ``gc.callbacks`` note each collection, its generation and thread. With a
    :class:`SlotTimer`, the procviz handlers that ran inside a gap are named with their cost.
    """

    def __init__(self) -> None:
        self.gui_tid = threading.get_native_id()
        self.rows: list[tuple[int, dict[int, tuple[int, int]]]] = []  # (monotonic ns, {tid: (cpu, runq)})
        self.names: dict[int, str] = {}
        self.machine: list[tuple[int, dict[int, int]]] = []  # per tick: (the machine's busy ns, {child pid: CPU ns})
        self._children: list[int] = []
        self.gcs: list[tuple[int, int, int, int]] = []  # (start ns, end ns, generation, tid)
        self._gc_start: dict[int, int] = {}
        self._watcher: subprocess.Popen | None = None
        self._notes_path = ""
        self.notes: list[tuple[int, int, str, int]] = []
        self.watcher_cpu_s = 0.0

    def start(self, watch_tids: tuple[int, ...] = ()) -> None:
        """Start the collection hook and the watcher child on the GUI thread and ``watch_tids``."""
        import tempfile

        gc.callbacks.append(self._on_gc)
        with tempfile.NamedTemporaryFile(prefix="procviz-gap-notes-", delete=False) as f:
            self._notes_path = f.name  # (the watcher writes its notes there when it ends)
        tids = [self.gui_tid, *[t for t in watch_tids if t != self.gui_tid]]
        self._watcher = subprocess.Popen([sys.executable, __file__, "--watch", str(os.getpid()), self._notes_path,
                                          *map(str, tids)], stdin=subprocess.PIPE, text=True)

    def watch(self, tids: list[int]) -> None:
        """Have the watcher also note ``tids`` (threads started since, the engine's)."""
        if self._watcher is not None and self._watcher.stdin is not None:
            self._watcher.stdin.write(" ".join(map(str, tids)) + "\n")
            self._watcher.stdin.flush()

    def stop(self) -> None:
        """Stop the hook and the watcher; read its notes."""
        import pickle

        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._watcher is not None:
            self._watcher.stdin.close()
            self._watcher.wait(10)
            with open(self._notes_path, "rb") as f:
                self.notes, self.watcher_cpu_s = pickle.load(f)
            os.unlink(self._notes_path)

    def _on_gc(self, phase: str, info: dict) -> None:
        tid = threading.get_native_id()
        if phase == "start":
            self._gc_start[tid] = time.monotonic_ns()
        elif tid in self._gc_start:
            self.gcs.append((self._gc_start.pop(tid), time.monotonic_ns(), info["generation"], tid))

    def tick(self) -> None:
        """The probe timer fired (GUI thread): read every thread's schedstat."""
        now = time.monotonic_ns()
        reading: dict[int, tuple[int, int]] = {}
        for entry in os.listdir("/proc/self/task"):
            tid = int(entry)
            reading[tid] = schedstat(f"/proc/self/task/{entry}/schedstat")
            if tid not in self.names:
                self.names.update({t.native_id: t.name for t in threading.enumerate() if t.native_id})
                self.names.setdefault(tid, f"thread {tid}")
        self.rows.append((now, reading))
        self.machine.append((self._machine_busy_ns(), self._children_cpu_ns()))

    def _machine_busy_ns(self) -> int:
        """Every CPU's busy time so far (``/proc/stat``: all processes of the machine, in 10 ms ticks)."""
        with open("/proc/stat", "rb") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return (sum(fields[:8]) - idle) * (1_000_000_000 // os.sysconf("SC_CLK_TCK"))

    def _children_cpu_ns(self) -> dict[int, int]:
        """On-CPU ns so far of each child of this process (the run's workers), every thread of each."""
        if len(self.machine) % 5 == 0:  # (new workers are looked for every 5 ticks)
            kids: set[int] = set()
            for entry in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{entry}/children", "rb") as f:
                        kids.update(int(pid) for pid in f.read().split())
                except OSError:
                    continue
            self._children = sorted(kids)
        out: dict[int, int] = {}
        for pid in self._children:
            try:
                out[pid] = sum(schedstat(f"/proc/{pid}/task/{entry}/schedstat")[0]
                               for entry in os.listdir(f"/proc/{pid}/task"))
            except OSError:
                continue  # it ended
        return out

    def breakdown(self, slots: SlotTimer | None = None, threshold_ms: float = 30.0) -> list[dict]:
        """One dict per gap over ``threshold_ms``: its ms split into the GUI thread's on-CPU, run-queue wait,
        and its sleep split by the watcher's notes into futex (the GIL), poll (idle loop) and other; each
        other thread's on-CPU ms; collections inside it; the procviz handlers that ran in it."""
        out = []
        gui = self.gui_tid
        for k, ((a, ra), (b, rb)) in enumerate(zip(self.rows, self.rows[1:], strict=False)):
            gap = (b - a) / 1e6
            if gap <= threshold_ms:
                continue
            (busy_a, kids_a), (busy_b, kids_b) = self.machine[k], self.machine[k + 1]
            ours = sum(c - ra[t][0] for t, (c, _) in rb.items() if t in ra) + sum(
                ns - kids_a[pid] for pid, ns in kids_b.items() if pid in kids_a)  # (seen at both ends)
            cpu = (rb.get(gui, (0, 0))[0] - ra.get(gui, (0, 0))[0]) / 1e6
            runq = (rb.get(gui, (0, 0))[1] - ra.get(gui, (0, 0))[1]) / 1e6
            asleep = max(gap - cpu - runq, 0.0)
            kinds: Counter[str] = Counter()
            calls: Counter[int] = Counter()  # the other system calls slept in, by number
            engine_running: Counter[str] = Counter()
            by_time: dict[int, dict[int, tuple[str, int]]] = {}
            for t, tid, state, call in self.notes:
                if a <= t <= b:
                    by_time.setdefault(t // 1_000_000, {})[tid] = (state, call)
            for moment in by_time.values():
                state, call = moment.get(gui, ("?", -1))
                if state in "SD" and call >= 0:
                    kind = SYSCALL_KIND.get(call, "other_sleep")
                    kinds[kind] += 1
                    if kind == "other_sleep":
                        calls[call] += 1
                    if kind == "futex":  # who ran meanwhile: the GIL's holder is one of them
                        engine_running.update(self.names.get(tid, str(tid)) for tid, (s, c) in moment.items()
                                              if tid != gui and s == "R")
            slept = sum(kinds.values())
            row = {"gap_ms": round(gap, 1), "gui_cpu": round(cpu, 1), "gui_runq": round(runq, 1),
                   # Who had the cores: the machine's busy time, this process and its workers' part of it.
                   "cores_ms": round(gap * (os.cpu_count() or 1), 1), "busy_ms": round((busy_b - busy_a) / 1e6, 1),
                   "ours_ms": round(ours / 1e6, 1)}
            for kind in ("futex", "poll", "other_sleep"):
                row[kind] = round(asleep * kinds[kind] / slept, 1) if slept else 0.0
            row["unsampled"] = 0.0 if slept else round(asleep, 1)  # (the watcher noted nothing in the gap)
            row["threads_cpu"] = {self.names.get(tid, str(tid)): round((c - ra.get(tid, (0, 0))[0]) / 1e6, 1)
                                  for tid, (c, _) in rb.items()
                                  if tid != gui and (c - ra.get(tid, (0, 0))[0]) > 500_000}
            row["running_while_gui_in_futex"] = dict(engine_running)
            row["other_calls"] = dict(calls)
            row["gc"] = [f"gen{g} {(e - s) / 1e6:.1f} ms on {'GUI' if tid == gui else self.names.get(tid, tid)}"
                         for s, e, g, tid in self.gcs if s < b and e > a and (e - s) > 200_000]
            if slots is not None:
                row["handlers"] = [f"{name} {1e3 * w:.1f} wall / {1e3 * c:.1f} CPU"
                                   for name, s, w, c in slots.calls if s * 1e9 < b and (s + w) * 1e9 > a and w > 0.001]
            out.append(row)
        return out


def gap_report(rows: list[dict], ticks: int, threshold_ms: float = 30.0) -> str:
    """The long gaps' breakdown, one line each, and the totals by part."""
    lines = [f"{len(rows)} gaps over {threshold_ms:.0f} ms among {ticks} ticks; ms: gap = GUI on-CPU + GUI in the run "
             "queue + asleep in futex (the GIL) + in poll (idle loop) + other (+ asleep where the watcher noted "
             "nothing); then other threads' CPU in the gap, collections, the handlers that ran"]
    for r in sorted(rows, key=lambda r: -r["gap_ms"]):
        others = ", ".join(f"{n} {ms:.0f}" for n, ms in sorted(r["threads_cpu"].items(), key=lambda kv: -kv[1]))
        lines.append(f"  {r['gap_ms']:5.0f} = {r['gui_cpu']:4.0f} cpu + {r['gui_runq']:4.0f} runq + {r['futex']:4.0f} "
                     f"futex + {r['poll']:4.0f} poll + {r['other_sleep']:4.0f} other"
                     + (f" + {r['unsampled']:4.0f} asleep, unsampled" if r.get("unsampled") else "")
                     + (f" (syscalls {r['other_calls']})" if r.get("other_calls") else "") + f" | {others}"
                     + (f" | gc: {'; '.join(r['gc'])}" if r["gc"] else "")
                     + (f" | {'; '.join(r.get('handlers', [])[:8])}" if r.get("handlers") else ""))
    if rows:
        cores, busy, ours = (sum(r.get(key, 0.0) for r in rows) for key in ("cores_ms", "busy_ms", "ours_ms"))
        if cores:
            lines.append(f"  the cores during these gaps: {cores:.0f} core-ms, busy {busy:.0f} (/proc/stat, 10 ms "
                         f"ticks), of which this process and its workers {ours:.0f} ({100 * ours / cores:.0f}% of the "
                         f"cores), other processes of the machine {max(busy - ours, 0):.0f} "
                         f"({100 * max(busy - ours, 0) / cores:.0f}%)")
        total = sum(r["gap_ms"] for r in rows)
        parts = ", ".join(f"{p} {sum(r[p] for r in rows):.0f} ms ({100 * sum(r[p] for r in rows) / total:.0f}%)"
                          for p in GAP_PARTS)
        lines.append(f"  in all {total:.0f} ms: {parts}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watch"]:
        _watch(int(sys.argv[2]), [int(t) for t in sys.argv[4:]], sys.argv[3])
