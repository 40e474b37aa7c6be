"""When a Pool worker sends its rows: its last rows go at the end of its last chunk, not at exit.

A worker sends between its tasks (recorder.py); the flusher thread only covers what its recording
thread cannot. At the end of a chunk, when the pool's task queue is empty (the end of a run), the
rows go at once: the engine need not wait for the flusher, nor for the workers' exit, to see the
run's last tasks end. Here the workers' timers are switched off (no flusher sends, no due sends),
so only that end-of-chunk send can bring the rows before the pool is closed.
"""

from __future__ import annotations

import multiprocessing
import pickle
import socket
import time
from functools import partial
from pathlib import Path

import numpy as np
from engine_helpers import open_descriptors

from procviz.engine.events import WIRE_EVENT_DTYPE
from procviz.engine.worker import instrument, recorder
from procviz.engine.worker.startup import bootstrap
from procviz.engine.worker.wire import EventKind

DEADLINE_S = 60.0  # generous: the rows come within milliseconds, or only at the workers' exit
CPU = "procviz.engine.worker.workloads:cpu"
SLEEP = "procviz.engine.worker.workloads:sleep"


def _init_without_timers(address: str) -> None:
    """procviz's Pool initializer, then no send on a timer: the flusher sleeps for good, no send is due."""
    bootstrap(address, CPU)
    recorder.FLUSH_S = 1e6
    instrument.FLUSH_NS = 1 << 62


def _span_ids(sock: socket.socket, want: set[int], kind: EventKind = EventKind.SPAN) -> set[int]:
    """Task ids of the rows of ``kind`` received until all of ``want`` came or the deadline passed."""
    seen: set[int] = set()
    sock.settimeout(0.2)
    deadline = time.monotonic() + DEADLINE_S
    while not want <= seen and time.monotonic() < deadline:
        try:
            batch = pickle.loads(sock.recv(1 << 20))
        except TimeoutError:
            continue
        rows = np.frombuffer(batch.rows, dtype=WIRE_EVENT_DTYPE)
        seen |= set(rows["task_id"][rows["kind"] == kind].tolist())
    return seen


def test_a_pool_workers_last_rows_come_before_it_exits(tmp_path: Path) -> None:
    address = str(tmp_path / "events.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    ctx = multiprocessing.get_context("spawn")
    # One worker: with two, one can end a chunk while the last chunk still waits in the queue (no
    # send: tasks wait), then lose that chunk to the other worker and sit idle with its rows, which
    # only the flusher (off here) sends. Seen once in CI at load ~5: ids 0-149 never came.
    pool = ctx.Pool(1, initializer=_init_without_timers, initargs=(address,))
    try:
        chunks = [(range(k * 50, k * 50 + 50), (0.0,), None) for k in range(4)]
        pool.map(partial(instrument.run_chunk, CPU, False), chunks, chunksize=1)
        seen = _span_ids(sock, set(range(200)))
        alive = [p.exitcode is None for p in pool._pool]  # type: ignore[attr-defined]
    finally:
        pool.close()
        pool.join()
        sock.close()
    assert seen == set(range(200))
    assert all(alive) and len(alive) == 1  # the rows came from a live, idle worker: not its exit's goodbye


def test_a_long_first_task_is_announced_as_it_begins(tmp_path: Path) -> None:
    # Timers off: only the send as the task begins can bring its START while it runs (the engine
    # times out only the tasks whose start it heard of).
    address = str(tmp_path / "events.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    pool = multiprocessing.get_context("spawn").Pool(1, initializer=_init_without_timers, initargs=(address,))
    try:
        result = pool.map_async(partial(instrument.run_chunk, SLEEP, False), [(range(7, 8), (DEADLINE_S * 2e3,), None)])
        seen = _span_ids(sock, {7}, EventKind.START)
        running = not result.ready()
    finally:
        pool.terminate()
        pool.join()
        sock.close()
    assert seen == {7} and running


def test_outside_a_pool_worker_the_task_queue_is_never_said_empty() -> None:
    assert multiprocessing.parent_process() is None and not instrument._no_task_waits()


def test_a_closed_recorder_has_closed_its_socket(tmp_path: Path) -> None:
    """Its socket is closed by close() itself, not when the recorder is collected: the flusher
    thread keeps the recorder alive until it has seen the close, and a thread-pool run's recorder
    still held at the engine's collection after the run kept its socket until the next one (a full
    suite's descriptor count once read a socket more). ``rec`` stays referenced here throughout."""
    rec = recorder.Recorder(str(tmp_path / "events.sock"))
    sock = rec._sender._sock  # noqa: SLF001
    name = open_descriptors()[str(sock.fileno())]
    assert name.startswith("socket:")
    rec.close()
    assert name not in open_descriptors().values()
