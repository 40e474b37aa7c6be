"""Where the parent of one ``procviz run`` spends its CPU: per thread, and the end-of-run steps.

Usage: ``python benchmarks/parent_threads.py [--profile THREAD] [RUN ARGS...]`` (default: the
1,000,000 no-op tasks of ``compare.py``'s ``noop1m`` row, chunksize 1000, ``--quiet``). It runs
``procviz run`` in this process, notes each thread's CPU time (``time.thread_time``) when the
thread ends, and the CPU of the steps done once at the end (metrics, the run's result); it prints
them with the process's total. ``--profile NAME`` runs the thread whose name (or target) contains
NAME under cProfile (thread CPU time) and prints its top functions (slower: for where, not how
much; ``PARENT_THREADS_SORT=cumtime``, ``PARENT_THREADS_TOP=60`` change the listing).
``PARENT_THREADS=--rss`` prints the RSS every 0.1 s as well.

``--ab REV [--rounds N] [RUN ARGS...]``: an A/B of the parent's thread CPU, this tree's HEAD against
git revision ``REV`` (both unpacked as ``compare.py --baseline`` does: the same import path for
both; commit first), N rounds (default 5) of one run each,
alternated (and the order swapped every other round); prints the median and range of each
figure for both and the median of the per-round ratios. Thread CPU, not wall: the load of a shared
machine moves it far less.

``benchmarks/compare.py`` gives the whole-process figures; this says which thread they go to.
All work is under ``if __name__ == "__main__"`` (spawned workers import this file as __main__).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

AB_FIGURES = ("procviz-engine (Engine._main)", "  of which LiveRun._loop (the run, to its verdict)",
              "  of which tracker.settle (decode + fold)", "  of which sampler.sample (worker states)",
              "  of which receiver.receive_all (recv + unpickle)", "  of which tracker.cut (batches out)",
              "  of which in procviz run (after this script's imports)", "process CPU (after imports)")

DEFAULT = ["run", "--backend", "pool", "--workers", "2", "--start-method", "spawn", "--kind", "cpu",
           "--count", "1000000", "--duration-ms", "0", "--chunksize", "1000", "--quiet"]
CPU: dict[str, float] = {}
CALLS: dict[str, int] = {}
MARKS: list[tuple[float, str]] = []  # (monotonic s, what) at the probed calls' first entry
MARKED: set[str] = set()
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class _RssWatch(threading.Thread):
    """Samples this process's RSS every 5 ms (a diagnosis aid: it costs a little CPU itself)."""

    def __init__(self) -> None:
        super().__init__(name="rss-watch", daemon=True)
        self.peak = (0.0, 0)
        self.series: list[tuple[float, int]] = []

    def run(self) -> None:
        while True:
            rss = _rss()
            self.series.append((time.monotonic(), rss))
            if rss > self.peak[1]:
                self.peak = (time.monotonic(), rss)
            time.sleep(0.005)


def _thread_key(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    name = getattr(target, "__qualname__", "") or getattr(target, "__name__", "")
    return f"{thread.name} ({name})" if name else thread.name


def _patch_threads(profile: str) -> dict[str, Any]:
    """Record every thread's CPU at its end; profile the one matching ``profile``."""
    profiles: dict[str, Any] = {}
    inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def bootstrap(self: threading.Thread) -> None:
        key = _thread_key(self)
        prof = None
        if profile and profile in key:
            import cProfile

            prof = profiles[key] = cProfile.Profile(time.thread_time)  # CPU, not wall
            prof.enable()
        try:
            inner(self)
        finally:
            if prof is not None:
                prof.disable()
            CPU[key] = CPU.get(key, 0.0) + time.thread_time()

    threading.Thread._bootstrap_inner = bootstrap  # type: ignore[attr-defined]
    return profiles


def _time_calls(owner: Any, name: str, label: str) -> None:
    """Add the CPU time (of the calling thread) spent in ``owner.name`` to CPU[label]."""
    fn = getattr(owner, name, None)
    if fn is None:  # the engine moved it: say so rather than fail the whole measurement
        print(f"(no {name} on {owner!r} to time: {label.strip()} not measured)")
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.thread_time()
        if label not in MARKED:  # a set: the probe's own cost stays small beside what it times
            MARKED.add(label)
            MARKS.append((time.monotonic(), label))
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[label] = CPU.get(label, 0.0) + time.thread_time() - t
            CALLS[label] = CALLS.get(label, 0) + 1

    setattr(owner, name, timed)


def main() -> None:
    """Run procviz with the probes and print the per-thread CPU."""
    args = sys.argv[1:]
    profile = ""
    if args[:1] == ["--profile"]:
        profile, args = args[1], args[2:]
    args = args or DEFAULT
    profiles = _patch_threads(profile)
    import numpy  # noqa: F401 - imported before the probes, as the CLI does

    from procviz.engine import metrics, reaper, run_loop, sampler, startup_watch, tracker

    _time_calls(metrics, "compute_metrics", "  of which compute_metrics (once, at the end)")
    _time_calls(tracker.RunTracker, "settle", "  of which tracker.settle (decode + fold)")
    _time_calls(tracker.RunTracker, "cut", "  of which tracker.cut (batches out)")
    _time_calls(run_loop.EventReceiver, "receive_all", "  of which receiver.receive_all (recv + unpickle)")
    _time_calls(run_loop.LiveRun, "_loop", "  of which LiveRun._loop (the run, to its verdict)")
    _time_calls(run_loop.LiveRun, "_shutdown", "  of which LiveRun._shutdown (workers end)")
    _time_calls(sampler.StateSampler, "sample", "  of which sampler.sample (worker states)")
    _time_calls(run_loop.EventReceiver, "wait_for_events", "  of which receiver.wait_for_events (sleeps)")
    _time_calls(run_loop.LiveRun, "_verdict", "  of which LiveRun._verdict (is the run over)")
    _time_calls(reaper.Reaper, "escalate", "  of which reaper.escalate (kills, tree scan)")
    _time_calls(startup_watch.StartupWatch, "receive", "  of which startup.receive")
    from procviz.engine.cli import main as cli_main

    watch = _RssWatch()
    rss0 = _rss()
    watch.start()
    wall0, cpu0, main0 = time.monotonic(), time.process_time(), time.thread_time()
    code = cli_main(args)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    CPU["process CPU (after imports)"] = cpu
    CPU["main thread"] = time.thread_time()
    CPU["  of which in procviz run (after this script's imports)"] = CPU["main thread"] - main0
    load = os.getloadavg()[0]
    if os.environ.get("PARENT_THREADS_JSON"):  # for --ab: one line a parent reads
        import json

        print("PARENT_THREADS_JSON " + json.dumps({"cpu": CPU, "calls": CALLS, "wall": wall, "load": load}))
    print(f"exit code {code}; wall {wall:.2f} s; process CPU {cpu:.3f} s (after imports); load {load:.1f}")
    for key, value in sorted(CPU.items(), key=lambda kv: -kv[1]):
        if key not in ("rss-watch", "process CPU (after imports)"):
            calls = f" ({CALLS[key]} calls)" if key in CALLS else ""
            print(f"{value:8.3f} s  {key}{calls}")
    at, peak = watch.peak
    print(f"RSS: {rss0 / 2**20:.1f} MiB after imports, peak {peak / 2**20:.1f} MiB at {at - wall0:.2f} s; first calls:")
    for t, what in MARKS:
        print(f"  {t - wall0:6.2f} s  {what.strip()}")
    if "--rss" in os.environ.get("PARENT_THREADS", ""):
        step = 0.0
        for t, rss in watch.series:
            if t - wall0 >= step:
                print(f"  rss {t - wall0:6.2f} s  {rss / 2**20:7.1f} MiB")
                step = t - wall0 + 0.1
    for key, prof in profiles.items():
        import pstats

        print(f"\n--- cProfile of {key} ---")
        order, top = os.environ.get("PARENT_THREADS_SORT", "tottime"), int(os.environ.get("PARENT_THREADS_TOP", "25"))
        pstats.Stats(prof).sort_stats(order).print_stats(top)


def ab(rev: str, rounds: int, args: list[str]) -> None:
    """Alternate runs of this tree and of revision ``rev``; print the figures side by side."""
    import json
    import statistics
    import subprocess
    import tempfile

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare import unpack_baseline

    with tempfile.TemporaryDirectory(prefix="procviz-ab-") as tree, \
            tempfile.TemporaryDirectory(prefix="procviz-ab-") as head:
        commit, this = unpack_baseline(rev, tree), unpack_baseline("HEAD", head)
        envs = {name: {**os.environ, "PARENT_THREADS_JSON": "1",
                       "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}
                for name, folder in ((this, head), (commit, tree))}
        got: dict[str, list[dict[str, Any]]] = {name: [] for name in envs}
        for r in range(rounds):
            for name in (list(envs) if r % 2 == 0 else list(envs)[::-1]):
                out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=envs[name],
                                     capture_output=True, text=True, check=True).stdout
                line = next(x for x in out.splitlines() if x.startswith("PARENT_THREADS_JSON "))
                got[name].append(json.loads(line.split(" ", 1)[1]))
    loads = [g["load"] for runs in got.values() for g in runs]
    print(f"{rounds} rounds, {this} (this) vs {commit}, load {min(loads):.1f}-{max(loads):.1f}; "
          "CPU s: median (min-max), ratio: median of the per-round ratios")

    def row(label: str, a: list[float], b: list[float], unit: str = "s", scale: float = 1.0) -> None:
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True)) if all(b) else float("nan")
        a, b = [x * scale for x in a], [x * scale for x in b]
        print(f"{label:55s} {this} {statistics.median(a):.3f} ({min(a):.3f}-{max(a):.3f}) {unit}  "
              f"{commit} {statistics.median(b):.3f} ({min(b):.3f}-{max(b):.3f}) {unit}  ratio {ratio:.2f}")

    for key in AB_FIGURES:
        row(key.strip(), [g["cpu"].get(key, float("nan")) for g in got[this]],
            [g["cpu"].get(key, float("nan")) for g in got[commit]])
    def pool_handler(g: dict[str, Any]) -> float:  # spins while results wait for its result thread
        return sum(v for k, v in g["cpu"].items() if k.endswith("(Pool._handle_workers)"))

    row("multiprocessing.Pool's worker handler thread", [pool_handler(g) for g in got[this]],
        [pool_handler(g) for g in got[commit]])
    row("wall", [g["wall"] for g in got[this]], [g["wall"] for g in got[commit]])
    key = "  of which sampler.sample (worker states)"  # one per tick: the loop's passes, about
    row("CPU per sampler tick (engine loop / ticks)",
        [g["cpu"][AB_FIGURES[1]] / g["calls"][key] for g in got[this]],
        [g["cpu"][AB_FIGURES[1]] / g["calls"][key] for g in got[commit]], "ms", 1e3)


if __name__ == "__main__":
    from launcher_name import name_main_as_the_launcher

    name_main_as_the_launcher()  # its workers boot as the procviz command's do, not running this script
    if sys.argv[1:2] == ["--ab"]:
        rest = sys.argv[3:]
        n = 5
        if rest[:1] == ["--rounds"]:
            n, rest = int(rest[1]), rest[2:]
        ab(sys.argv[2], n, rest or DEFAULT)
    else:
        main()
