"""Engine benchmarks, each against a reference measured side by side in the same run.

    python benchmarks/bench_engine.py [--quick]

1. wall overhead on 1 ms CPU tasks: procviz Engine vs a bare ``multiprocessing.Pool.map`` of the
   same tasks (same workers, chunksize, start method), alternating runs, median of each.
   Target <= 2 %.
2. worker CPU added per task: ``run_task`` (measuring and recording) around a no-op vs calling
   the no-op directly, thread CPU time per call. Target <= 3 us.
3. parent CPU per event: datagrams of packed events through EventReceiver + RunTracker, vs the
   reference ``multiprocessing.Queue`` with one message per event. Target <= 0.5 us.
4. bytes per task held by the Timeline (task columns), and in the native JSON file if available.

Figures are printed as a table; the README quotes them. Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procviz.engine import instrument  # noqa: E402
from procviz.engine.channel import EventReceiver  # noqa: E402
from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.events import WIRE_EVENT_STRUCT, EventKind, RunInfo, TaskState, WorkerBatch, WorkerHello  # noqa: E402
from procviz.engine.instrument import TaskCall, run_task  # noqa: E402
from procviz.engine.runner import Engine  # noqa: E402
from procviz.engine.sampler import StateSampler  # noqa: E402
from procviz.engine.tracker import RunTracker  # noqa: E402
from procviz.engine.workloads import cpu  # noqa: E402


def noop() -> None:
    """The task of the per-task overhead benchmark."""


def bare_pool_wall(n: int, workers: int, chunksize: int, ms: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(noop_arg, range(workers * 4), chunksize=1)  # warm: every worker started
        t = time.perf_counter()
        pool.map(cpu, [ms] * n, chunksize=chunksize)
        return time.perf_counter() - t


def noop_arg(_: object) -> None:
    """Warm-up task."""


def engine_wall(n: int, workers: int, chunksize: int, ms: float) -> float:
    engine = Engine()
    engine.start(parse_config({"workers": workers, "chunksize": chunksize, "start_method": "spawn",
                               "workload": {"kind": "cpu", "count": n, "duration_ms": ms}}))
    result = engine.join(600)
    assert result is not None and result.outcome == "completed", result and result.message
    tl = result.timeline
    # From the moment every worker was ready (as the bare pool is warmed) to the last end.
    ready = max(lane.ready_ns for lane in tl.lanes if lane.kind == "process")
    started_after = tl.start_ns >= ready
    first = tl.start_ns[started_after].min()
    # Tasks that ran before every worker was ready are left out of both numerator and the count.
    done_after = int(started_after.sum())
    return (tl.end_ns.max() - first) / 1e9 * n / max(done_after, 1)


def bench_wall(quick: bool) -> tuple[float, float]:
    n, workers, chunksize, ms = (1000 if quick else 4000), 2, 8, 1.0
    bare, pv = [], []
    for _ in range(1 if quick else 3):
        bare.append(bare_pool_wall(n, workers, chunksize, ms))
        pv.append(engine_wall(n, workers, chunksize, ms))
    return statistics.median(bare), statistics.median(pv)


def _drain(receiver: EventReceiver, stop: threading.Event) -> None:
    while not stop.is_set():
        receiver.wait(0.01)
        receiver.receive_all()


def bench_worker_cpu(calls: int) -> tuple[float, float]:
    receiver = EventReceiver()
    stop = threading.Event()
    drainer = threading.Thread(target=_drain, args=(receiver, stop), daemon=True)
    drainer.start()
    instrument.connect_threads(receiver.address)
    instrument.announce_thread("process")
    call = TaskCall(0, "benchmarks.bench_engine:noop", ())
    from procviz.engine.workloads import resolve

    fn = resolve(call.function)
    bares, measures = [], []
    per_round = max(calls // 5, 1)
    for _ in range(5):  # alternating rounds, median of each: the machine is shared and noisy
        c = time.thread_time_ns()
        for _ in range(per_round):
            fn()
        bares.append((time.thread_time_ns() - c) / per_round)
        c = time.thread_time_ns()
        for _ in range(per_round):
            run_task(call)
        measures.append((time.thread_time_ns() - c) / per_round)
    bare, measured = statistics.median(bares), statistics.median(measures)
    stop.set()
    drainer.join()
    receiver.close()
    return bare / 1000, measured / 1000


def _packed_batches(n_events: int, per_batch: int, pid: int) -> list[bytes]:
    import pickle

    out = []
    buf = bytearray(WIRE_EVENT_STRUCT.size * per_batch)
    task = 0
    seq = 1
    out.append(pickle.dumps(WorkerBatch(pid, seq, b"", hello=WorkerHello(pid, pid, 0, 0, True))))
    while task < n_events // 2:
        k = 0
        for _ in range(per_batch // 2):
            if task >= n_events // 2:
                break
            WIRE_EVENT_STRUCT.pack_into(buf, k * WIRE_EVENT_STRUCT.size, EventKind.START, 0, pid, task, 1, 0, 0, 0)
            WIRE_EVENT_STRUCT.pack_into(buf, (k + 1) * WIRE_EVENT_STRUCT.size, EventKind.END, TaskState.DONE, pid,
                                        task, 2, 1, 0, 0)
            k += 2
            task += 1
        seq += 1
        out.append(pickle.dumps(WorkerBatch(pid, seq, bytes(buf[: k * WIRE_EVENT_STRUCT.size]))))
    return out


def bench_parent_cpu(n_events: int) -> tuple[float, float]:
    import socket

    receiver = EventReceiver()
    run = RunInfo(n_tasks=n_events // 2, t0_ns=0, config={"workers": 2}, host="", cpu_count=2, schedstat=True)
    tracker = RunTracker(run, StateSampler())
    datagrams = _packed_batches(n_events, 64, 999_999)  # ~one worker's 10 ms flush at 1 ms tasks x 32
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    t_cpu = 0
    sent = 0
    for i in range(0, len(datagrams), 8):  # the kernel queues few datagrams (max_dgram_qlen)
        for d in datagrams[i : i + 8]:
            sender.sendto(d, receiver.address)
            sent += 1
        c = time.thread_time_ns()
        for batch in receiver.receive_all():
            tracker.on_worker_batch(batch, 0)
        tracker.settle(0)
        tracker.cut(0)
        t_cpu += time.thread_time_ns() - c
    sender.close()
    receiver.close()
    assert tracker.all_finished(), "benchmark lost events"
    per_event = t_cpu / n_events / 1000
    # Reference: one multiprocessing.Queue message per event, as a naive design would send them.
    q: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    m = min(n_events, 50_000)
    feeder = threading.Thread(target=lambda: [q.put((i, 1, 2, 3)) for i in range(m)])
    feeder.start()
    feeder.join()
    c = time.thread_time_ns()
    for _ in range(m):
        q.get()
    ref = (time.thread_time_ns() - c) / m / 1000
    q.close()
    return ref, per_event


def bench_sampler(workers: int = 32, ticks: int = 250) -> tuple[float, float]:
    """CPU share of one core used by the StateSampler at 50 Hz over ``workers`` live processes,
    against a naive sampler that asks psutil for every worker's cpu_times and status each tick."""
    import subprocess

    import psutil

    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(workers)]
    try:
        time.sleep(0.5)
        sampler = StateSampler(period_s=0.02)
        for i, p in enumerate(procs):
            sampler.add(i, p.pid, p.pid, time.monotonic_ns())
        c = time.thread_time_ns()
        for _ in range(ticks):
            sampler.sample(time.monotonic_ns())
        sampler.take()
        ours = (time.thread_time_ns() - c) / ticks * 50 / 1e9
        naive = [psutil.Process(p.pid) for p in procs]
        c = time.thread_time_ns()
        for _ in range(ticks):
            for proc in naive:
                proc.cpu_times()
                proc.status()
        ref = (time.thread_time_ns() - c) / ticks * 50 / 1e9
        return ref, ours
    finally:
        for p in procs:
            p.kill()
            p.wait()


def bench_bytes(n: int) -> tuple[float, float | None]:
    from procviz.engine.timeline import Timeline

    tl = Timeline()
    tl.begin(RunInfo(n_tasks=n, t0_ns=0, config={}, host="", cpu_count=2, schedstat=True))
    per_task = sum(getattr(tl, c).nbytes for c in Timeline.TASK_COLUMNS) / n
    file_bytes = None
    try:
        from procviz.engine.formats import write_timeline

        tl.start_ns[:] = np.arange(n) * 1000
        tl.end_ns[:] = tl.start_ns + 900
        tl.submitted_ns[:] = 0
        tl.cpu_ns[:] = 800
        tl.ready_ns[:] = 50
        tl.lane[:] = np.arange(n) % 4
        tl.state[:] = TaskState.DONE
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.json")
            write_timeline(tl, path)
            file_bytes = os.path.getsize(path) / n
    except Exception as exc:  # noqa: BLE001 - the formats package may be missing in a partial tree
        print(f"  (native file size not measured: {exc})")
    return per_task, file_bytes


def main() -> None:
    """Run every benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    args = parser.parse_args()
    rows = []
    bare, pv = bench_wall(args.quick)
    rows.append(("wall, 1 ms CPU tasks (s)", f"{bare:.3f}", f"{pv:.3f}", f"{(pv / bare - 1) * 100:+.1f} %", "<= 2 %"))
    b, m = bench_worker_cpu(20_000 if args.quick else 200_000)
    rows.append(("worker CPU per task (us)", f"{b:.2f}", f"{m:.2f}", f"+{m - b:.2f} us", "<= 3 us added"))
    ref, per = bench_parent_cpu(20_000 if args.quick else 400_000)
    rows.append(("parent CPU per event (us)", f"{ref:.2f}", f"{per:.3f}", f"{per / ref:.3f}x", "<= 0.5 us"))
    ref, ours = bench_sampler()
    rows.append(("sampler, 32 workers at 50 Hz (% of a core)", f"{ref * 100:.2f}", f"{ours * 100:.2f}",
                 f"{ours / ref:.2f}x", "<= 5 %"))
    per_task, file_bytes = bench_bytes(1_000_000)
    rows.append(("Timeline bytes per task", "-", f"{per_task:.0f}", "-", "tens of bytes"))
    if file_bytes is not None:
        rows.append(("native JSON bytes per task", "-", f"{file_bytes:.0f}", "-", "-"))
    widths = [max(len(str(r[i])) for r in rows + [("measure", "reference", "procviz", "difference", "target")])
              for i in range(5)]
    header = ("measure", "reference", "procviz", "difference", "target")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
