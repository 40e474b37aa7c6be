"""Where the GUI thread's long slices go: a stack sampler for the window's benchmarks.

A daemon thread samples the GUI thread's Python stack every ``interval_s`` (``sys._current_frames``),
and a 10 ms QTimer on the GUI thread notes when it fires. A gap between two firings longer than
``threshold_ms`` is a stall; the samples taken inside it say what the GUI thread was doing. The
report sums, per stall, the stall's length onto the procviz functions seen on its samples
(the innermost procviz frame, the outermost one: the slot or handler that was running, and
every procviz frame on the stack), so
the biggest causes come first. Sampling needs the GIL: a stall spent in C code that holds it shows
the Python frame that called that code, which is what one wants to cut anyway.

Used by ``bench_gui.py --stalls``; nothing here is a test.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
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


class SlotTimer:
    """Times every outermost call of a procviz.gui method on the GUI thread (a slot, a handler, a
    paint): wall and thread CPU time, so a long slice's own cost is told apart from the time the
    process spent descheduled on a loaded machine."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, float]] = []  # (name, start, wall s, cpu s)
        self._depth = 0
        self._main = threading.main_thread().ident

    def install(self) -> None:
        """Wrap the methods of every class defined in the procviz.gui modules imported so far."""
        import inspect

        for module in [m for name, m in sys.modules.items() if name.startswith("procviz.gui")]:
            for cls in [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]:
                for attr, value in list(vars(cls).items()):
                    if inspect.isfunction(value) and not attr.startswith("__"):
                        setattr(cls, attr, self._wrap(f"{module.__name__.removeprefix('procviz.gui.')}."
                                                      f"{cls.__name__}.{attr}", value))

    def _wrap(self, name: str, fn):  # noqa: ANN001, ANN202
        timer = self

        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if threading.get_ident() != timer._main or timer._depth:
                return fn(*args, **kwargs)
            timer._depth += 1
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                timer._depth -= 1
                timer.calls.append((name, t, time.perf_counter() - t, time.thread_time() - c))

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
