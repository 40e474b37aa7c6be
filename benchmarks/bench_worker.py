"""Worker CPU added per task, in real worker processes, pickling included: ``python benchmarks/bench_worker.py``.

One ``multiprocessing.Pool`` (spawn, 2 workers by default) runs the same no-op tasks two ways,
alternated round by round: bare (the task function mapped over its arguments, as a user writes it)
and measured (the Pool backend's own submission of a procviz plan, with the workers' recorder
sending real datagrams to a socket this process drains and discards). The figure is the workers'
CPU (every thread's ``/proc/<pid>/task/<tid>/schedstat``, so the flusher thread counts) added per
task: (measured - bare) / tasks, median of per-round differences, with the spread. Start-up is
left out (the workers are started and warmed up before the first round); the engine's parent-side
work is not in it either (``benchmarks/compare.py`` measures whole processes).

Figures are CPU time, steadier than wall under load; say the load beside them.

``--instructions`` counts instead the user-space instructions added per task (valgrind's
callgrind), in one process: ``run_chunk`` over the same tasks against the bare loop, the flusher
held off (the recording thread sends full batches itself), so the count depends neither on timing
nor on load; the kernel's side of a clock read (a system call here) is not in it. ``--against
DIR`` counts the procviz checkout in DIR (``DIR/procviz``) the same way, for an A/B.

``--pieces`` splits the recording's cost per no-op task, in one process: the real short-task
loop (``instrument._run_coarse``) against copies of it with one piece taken out each (the CPU
clock's system call, made a vDSO read; the monotonic clock; the row's pack; the task slot's
store; the task's start for a flush), and against a bare loop, rounds alternated, this thread's
CPU per task: medians, and the fastest rounds (the least disturbed by other load). A copy that
no longer finds its piece in the source says so.

``--per-run`` measures whole worker lives instead: each round starts a fresh spawn Pool (bare, and
with procviz's initializer), runs the tasks (``--kind cpu|sleep|function``, ``--ms`` each,
``--chunksize 0`` for the Pool's default), closes and joins it; the figure is the workers' CPU
(``RUSAGE_CHILDREN``: every thread, start-up, flusher and exit included) added per run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

TIMEOUT_S = 300.0  # per round: a lost chunk raises instead of hanging


def _cpu_ns(pids: list[int]) -> int:
    """CPU of every thread of ``pids`` so far (schedstat field 1, ns)."""
    total = 0
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass  # a thread that ended meanwhile
    return total


_received = [0]  # datagrams drained so far


def _drain(sock: socket.socket) -> None:
    buf = bytearray(512 * 1024)
    while True:
        try:
            sock.recv_into(buf)
        except OSError:
            return
        _received[0] += 1


def _sink(address: str, buffer_bytes: int = 4 * 1024 * 1024) -> socket.socket:
    """The engine's event socket stand-in at ``address``, drained on a daemon thread (``_received``
    counts the datagrams); ``buffer_bytes``: its receive buffer (0: the system's default)."""
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(address)
    if buffer_bytes:
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
    threading.Thread(target=_drain, args=(sink,), daemon=True).start()
    return sink


def _plan(kind: str, n: int, chunksize: int | None, ms: float = 0.0, workers: int = 2) -> Any:
    # Imported here, not at the top: spawn workers import this file as their main module, and must
    # import only what a user's script and procviz's workers do (no numpy).
    from procviz.engine.config import parse_config
    from procviz.engine.plan import build_plan

    workload: dict[str, Any] = {"kind": kind, "count": n, "duration_ms": ms}
    if kind == "function":
        workload = {"kind": "function", "count": n, "function": "procviz.engine.worker.demo_tasks:noop"}
    return build_plan(parse_config({"backend": "pool", "workers": workers, "chunksize": chunksize,
                                    "workload": workload}))


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the figure."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--chunksize", type=int, default=1000, help="0: the Pool's default")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kind", choices=("cpu", "sleep", "function"), default="cpu",
                    help="cpu: the built-in kind with 0 ms (its task reads the thread clock twice); "
                         "function: demo_tasks:noop with no arguments; sleep: with --per-run only")
    ap.add_argument("--per-run", action="store_true",
                    help="whole worker lives: start, tasks, exit (see the module docstring)")
    ap.add_argument("--ms", type=float, default=0.0, help="with --per-run: each task's duration (cpu, sleep)")
    ap.add_argument("--instructions", action="store_true", help="count instructions under valgrind (see above)")
    ap.add_argument("--against", metavar="DIR", help="with --instructions: also count the procviz in DIR/procviz")
    ap.add_argument("--pieces", action="store_true", help="split the per-task cost by piece (see above)")
    ap.add_argument("--count-one", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)  # valgrind's child
    args = ap.parse_args(argv)
    if args.count_one:
        _count_one(args.count_one[0], int(args.count_one[1]), args.kind, args.chunksize)
        return 0
    if args.instructions:
        return _instructions(args)
    if args.pieces:
        return _pieces(args)
    if args.per_run:
        return _per_run(args, _plan(args.kind, args.tasks, args.chunksize or None, args.ms, args.workers))
    from procviz.engine.worker.startup import bootstrap

    plan = _plan(args.kind, args.tasks, args.chunksize)
    bare_args = [0.0] * args.tasks if args.kind == "cpu" else range(args.tasks)  # as compare.py's bare script
    with tempfile.TemporaryDirectory(prefix="procviz-bench-worker-") as tmp:
        address = os.path.join(tmp, "events.sock")
        sink = _sink(address)
        ctx = multiprocessing.get_context("spawn")
        bare_pool = ctx.Pool(args.workers)
        pv_pool = ctx.Pool(args.workers, initializer=bootstrap, initargs=(address, plan.function))
        try:
            diffs, bares = _rounds(args, plan, bare_pool, pv_pool, bare_args)
        finally:  # close and join, as a user's script ends (terminate() is the engine's business)
            for pool in (bare_pool, pv_pool):
                pool.close()
                pool.join()
        sink.close()
    load = os.getloadavg()[0]
    print(f"{args.kind} x {args.tasks} tasks, chunksize {args.chunksize}, {args.workers} spawn workers, "
          f"{args.rounds} rounds, load {load:.1f}")
    print(f"bare worker CPU per task: {statistics.median(bares):.0f} ns")
    print(f"worker CPU added per task: {statistics.median(diffs) / 1000:.2f} us "
          f"({min(diffs) / 1000:.2f}-{max(diffs) / 1000:.2f})")
    return 0


def _rounds(args: argparse.Namespace, plan: Any, bare_pool: Any, pv_pool: Any,
            bare_args: Any) -> tuple[list[float], list[float]]:
    """Alternated rounds: (procviz - bare, bare) worker CPU per task of each, in ns."""
    from procviz.engine.backends.pool import map_plan

    bare_pids = [p.pid for p in bare_pool._pool]
    pv_pids = [p.pid for p in pv_pool._pool]
    task_fn = _resolve(plan.function)
    bare_pool.map(task_fn, bare_args[:1000], chunksize=args.chunksize)  # warm up both
    map_plan(pv_pool, _plan(args.kind, 1000, args.chunksize))
    diffs, bares = [], []
    for r in range(args.rounds):
        runs = {}
        for mode in (("bare", "procviz") if r % 2 == 0 else ("procviz", "bare")):
            pids = bare_pids if mode == "bare" else pv_pids
            c0 = _cpu_ns(pids)
            if mode == "bare":
                bare_pool.map_async(task_fn, bare_args, chunksize=args.chunksize).get(TIMEOUT_S)
            else:
                map_plan(pv_pool, plan, TIMEOUT_S)
            time.sleep(0.05)  # let the flusher's last send land in this round
            runs[mode] = (_cpu_ns(pids) - c0) / args.tasks
        diffs.append(runs["procviz"] - runs["bare"])
        bares.append(runs["bare"])
    return diffs, bares


def _per_run(args: argparse.Namespace, plan: Any) -> int:
    """Print the workers' CPU of whole runs (start, tasks, exit), bare against measured, alternated."""
    import resource

    from procviz.engine.backends.pool import map_plan
    from procviz.engine.worker.startup import bootstrap

    fn = _resolve(plan.function)
    bare_args = [args.ms] * args.tasks if args.kind != "function" else range(args.tasks)
    cs = args.chunksize or None

    def children_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    runs: dict[str, list[float]] = {"bare": [], "procviz": []}
    datagrams: list[int] = []
    with tempfile.TemporaryDirectory(prefix="procviz-bench-worker-") as tmp:
        address = os.path.join(tmp, "events.sock")
        sink = _sink(address)
        ctx = multiprocessing.get_context("spawn")
        for r in range(args.rounds):
            for mode in (("bare", "procviz") if r % 2 == 0 else ("procviz", "bare")):
                c0, d0 = children_cpu(), _received[0]
                if mode == "bare":
                    pool = ctx.Pool(args.workers)
                    pool.map_async(fn, bare_args, chunksize=cs).get(TIMEOUT_S)
                else:
                    pool = ctx.Pool(args.workers, initializer=bootstrap, initargs=(address, plan.function))
                    map_plan(pool, plan, TIMEOUT_S)
                pool.close()
                pool.join()
                runs[mode].append(children_cpu() - c0)
                if mode == "procviz":
                    time.sleep(0.05)  # the last datagrams land
                    datagrams.append(_received[0] - d0)
        sink.close()
    diffs = [p - b for p, b in zip(runs["procviz"], runs["bare"], strict=True)]
    print(f"{args.kind} {args.ms} ms x {args.tasks} tasks, chunksize {cs or 'default'}, {args.workers} spawn "
          f"workers, {args.rounds} rounds, whole worker lives, load {os.getloadavg()[0]:.1f}")
    print(f"bare workers' CPU per run: {statistics.median(runs['bare']) * 1e3:.1f} ms")
    print(f"workers' CPU added per run: {statistics.median(diffs) * 1e3:.1f} ms "
          f"({min(diffs) * 1e3:.1f} to {max(diffs) * 1e3:.1f}); "
          f"ratio {statistics.median(runs['procviz']) / statistics.median(runs['bare']):.3f}; "
          f"{statistics.median(datagrams):.0f} datagrams per run")
    return 0


def _instructions(args: argparse.Namespace) -> int:
    """Print the instructions added per task by this procviz (and the one in ``--against``)."""
    n = min(args.tasks, 30_000)  # valgrind runs ~50x slower
    for label, path in (("this procviz", ""), (f"procviz in {args.against}", args.against)):
        if path is None:
            continue
        env = {**os.environ, "PYTHONPATH": path} if path else dict(os.environ)
        counts = {mode: _valgrind_count(mode, n, args, env) for mode in ("bare", "measured")}
        added = (counts["measured"] - counts["bare"]) / n
        print(f"{label}: {args.kind} x {n} tasks, chunksize {args.chunksize}: {added:.0f} instructions added per task "
              f"(user space, callgrind)")
    return 0


def _valgrind_count(mode: str, n: int, args: argparse.Namespace, env: dict[str, str]) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           "--kind", args.kind, "--chunksize", str(args.chunksize), "--count-one", mode, str(n)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise RuntimeError(f"no count in valgrind's output: {out[-500:]}")
    return int(found.group(1))


def _count_one(mode: str, n: int, kind: str, chunksize: int) -> None:
    """valgrind's child: ``n`` tasks bare or through run_chunk, recording to a socket drained here."""
    import importlib

    from procviz.engine.worker import instrument

    for name in ("procviz.engine.worker.recorder", "procviz.engine.worker.instrument"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # an older checkout
            continue
        if hasattr(module, "FLUSH_S"):
            module.FLUSH_S = 1e6  # the flusher holds off: the count must not depend on timing
        if hasattr(module, "FLUSH_NS"):
            module.FLUSH_NS = 1 << 62  # nor do sends fall due (under valgrind a chunk lasts ~50x longer)
    instrument.FINE_NS = 1 << 62  # under valgrind a no-op task can last 200 us: keep the short-task path
    ref = "procviz.engine.worker.demo_tasks:noop" if kind == "function" else "procviz.engine.worker.workloads:cpu"
    shared = () if kind == "function" else (0.0,)
    fn = _resolve(ref)
    with tempfile.TemporaryDirectory(prefix="procviz-bench-worker-") as tmp:
        address = os.path.join(tmp, "events.sock")
        sink = _sink(address, buffer_bytes=0)
        instrument.connect_threads(address)
        instrument.run_chunk(ref, kind == "function", (range(10), shared, None))  # warm up
        for start in range(0, n, chunksize):
            ids = range(start, min(start + chunksize, n))
            if mode == "bare":
                for _ in ids:
                    fn(*shared)
            else:
                instrument.run_chunk(ref, kind == "function", (ids, shared, None))
        sink.close()


# Each piece of the short-task loop taken out: (the source as it is, as it becomes), per piece.
_PIECES: dict[str, list[tuple[str, str]]] = {
    "the CPU clock's system call (a vDSO read instead)": [],  # the clock swapped, the source as it is
    # (each task then takes 100 ns: a group closes every 200 tasks)
    "the monotonic clock": [("t1 = mono()  # the boundary", "t1 = t0 + 100  # the boundary")],
    "the row's pack": [("pack(ring, off - base, task_id, t1, t1 - t0, -1, t0)", "pass")],
    "the task slot's store": [("slot[0] = task_id", "pass")],
    "the task's start for a flush": [("slot[1] = t0", "pass")],
}


def _loop_without(piece: str) -> Any:
    """instrument._run_coarse compiled again with ``piece`` taken out (None: its source has changed)."""
    import inspect
    import textwrap

    from procviz.engine.worker import instrument

    source = textwrap.dedent(inspect.getsource(instrument._run_coarse))
    for old, new in _PIECES[piece]:
        if old not in source:
            return None
        source = source.replace(old, new)
    namespace = dict(vars(instrument))
    if not _PIECES[piece]:
        namespace["_thread_time_ns"] = time.perf_counter_ns
    exec(compile(source, instrument.__file__, "exec"), namespace)  # noqa: S102 - procviz's own source
    return namespace["_run_coarse"]


def _pieces(args: argparse.Namespace) -> int:
    """Print this thread's CPU per no-op task: bare, the loop, and the loop without each piece."""
    from procviz.engine.worker import instrument

    ref, n, cs = "procviz.engine.worker.demo_tasks:noop", args.tasks, args.chunksize
    fn = _resolve(ref)
    instrument.FINE_NS = 1 << 62  # every task in the short-task loop, however the load stretches one
    loops = {"bare": None, "procviz": instrument._run_coarse}
    loops |= {f"without {piece}": _loop_without(piece) for piece in _PIECES}
    runs: dict[str, list[float]] = {name: [] for name in loops}
    with tempfile.TemporaryDirectory(prefix="procviz-bench-worker-") as tmp:
        address = os.path.join(tmp, "events.sock")
        sink = _sink(address)
        instrument.connect_threads(address)
        real = instrument._run_coarse
        try:
            for _ in range(args.rounds):
                for name, loop in loops.items():
                    if name != "bare" and loop is None:
                        continue
                    instrument._run_coarse = loop
                    c0 = time.thread_time_ns()
                    for start in range(0, n, cs):
                        ids = range(start, min(start + cs, n))
                        if loop is None:
                            for _ in ids:
                                fn()
                        else:
                            instrument.run_chunk(ref, True, (ids, (), None))
                    runs[name].append((time.thread_time_ns() - c0) / n)
        finally:
            instrument._run_coarse = real
            instrument.disconnect_threads()
            sink.close()
    full, fastest = statistics.median(runs["procviz"]), min(runs["procviz"])
    print(f"no-op function x {n} tasks, chunksize {cs}, {args.rounds} rounds, this thread's CPU per task, "
          f"load {os.getloadavg()[0]:.1f}")
    for name, values in runs.items():
        if not values:
            print(f"  {name}: not found in instrument._run_coarse's source (update _PIECES)")
            continue
        m = statistics.median(values)
        against = f" ({m - full:+.0f} ns, fastest {min(values) - fastest:+.0f}, against procviz)"
        print(f"  {name}: {m:.0f} ns, fastest round {min(values):.0f}" + ("" if name == "procviz" else against))
    return 0


def _resolve(ref: str) -> Any:
    from procviz.engine.worker.workloads import resolve

    return resolve(ref)


if __name__ == "__main__":
    sys.exit(main())
