"""Worker side: the initializer and the task wrapper that measure every task.

In each worker process (or thread, for thread pools) a :class:`Recorder` packs task events into a
preallocated buffer with ``struct.pack_into`` and sends them to the engine in batches:

* a batch goes out when ``FLUSH_ROWS`` events are buffered, from a flusher thread at most
  ``FLUSH_S`` after the first buffered event (so a long task shows as running while it runs), at
  a task start when nothing was sent for ``FLUSH_S`` (long tasks: no flusher latency), and at exit
  (normal exit through a multiprocessing finalizer; SIGTERM through a handler that flushes and
  then dies by the same signal, so exit codes stay true).
* per task, :func:`run_task` reads ``time.monotonic_ns()``, ``time.thread_time_ns()`` and the
  thread's own ``/proc/thread-self/schedstat`` (run-queue wait) at start and end. Waiting
  (blocked) time is derived later as wall - cpu - ready. Where schedstat is missing, ready is
  sent as -1: unmeasured, never invented.

Exceptions of any kind (``BaseException``: ``SystemExit``, ``KeyboardInterrupt`` too) become a
FAILED end event plus a :class:`TaskText` with the type, message and traceback. The wrapper
returns ``None`` to the pool either way, so no exception ever travels through the pool's result
pipe, where one that pickles but cannot be unpickled would kill the pool's result thread.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing import util
from typing import Any

from engine.channel import EventSender
from engine.clock import SchedstatReader, process_created_ns
from engine.events import (
    WIRE_EVENT_STRUCT,
    EventKind,
    TaskState,
    TaskText,
    WaitSpan,
    WorkerBatch,
    WorkerHello,
)
from engine.workloads import resolve

FLUSH_ROWS = 256
FLUSH_S = 0.010
MAX_TEXT = 4000  # characters kept of a message or a traceback
MAX_RESULT_TEXT = 200


@dataclass(frozen=True, slots=True)
class TaskCall:
    """What a worker is asked to run: task id, ``module:function`` and positional arguments."""

    task_id: int
    function: str
    args: tuple[Any, ...]
    report_result: bool = False  # send a short repr of the result (function workloads)


class Recorder:
    """Buffers one worker's events and sends them as :class:`WorkerBatch` datagrams.

    Thread-safe: a thread pool's workers share one Recorder (one process, one socket), and the
    flusher thread sends while tasks record.
    """

    def __init__(self, address: str) -> None:
        self.pid = os.getpid()
        self._sender = EventSender(address)
        self._lock = threading.Lock()
        self._buf = bytearray(WIRE_EVENT_STRUCT.size * FLUSH_ROWS)
        self._rows = 0
        self._texts: list[TaskText] = []
        self._waits: list[WaitSpan] = []
        self._hellos: list[WorkerHello] = []
        self._seq = 0
        self._last_flush = time.monotonic()
        self._pending = threading.Event()
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_loop, name="procviz-flusher", daemon=True)
        self._flusher.start()

    # ---- recording (hot path) -------------------------------------------------------------------

    def event(self, kind: int, status: int, tid: int, task_id: int, t_ns: int, cpu_ns: int, ready_ns: int) -> None:
        """Buffer one packed event row."""
        with self._lock:
            WIRE_EVENT_STRUCT.pack_into(self._buf, self._rows * WIRE_EVENT_STRUCT.size, kind, status, tid,
                                        task_id, t_ns, cpu_ns, ready_ns, 0)
            self._rows += 1
            full = self._rows >= FLUSH_ROWS
            if full:
                self._flush_locked()
        if not full and not self._pending.is_set():
            self._pending.set()

    def text(self, text: TaskText) -> None:
        """Buffer an error or result text (sent with the next batch)."""
        with self._lock:
            self._texts.append(text)

    def wait_span(self, span: WaitSpan) -> None:
        """Buffer a span spent blocked in an instrumented primitive."""
        with self._lock:
            self._waits.append(span)
        self._pending.set()

    def hello(self, hello: WorkerHello) -> None:
        """Announce a worker (process or thread) and send it at once."""
        with self._lock:
            self._hellos.append(hello)
            self._flush_locked()

    def flush_if_quiet(self) -> None:
        """Send now if nothing was sent for FLUSH_S (called at task start: long tasks show at once)."""
        if time.monotonic() - self._last_flush >= FLUSH_S:
            self.flush()

    # ---- sending --------------------------------------------------------------------------------

    def flush(self, goodbye: bool = False) -> None:
        """Send everything buffered as one or more datagrams."""
        with self._lock:
            self._flush_locked(goodbye)

    def _flush_locked(self, goodbye: bool = False) -> None:
        hellos, self._hellos = self._hellos, []
        if not (self._rows or self._texts or self._waits or hellos or goodbye):
            return
        rows = bytes(self._buf[: self._rows * WIRE_EVENT_STRUCT.size])
        texts, self._texts = tuple(self._texts), []
        waits, self._waits = tuple(self._waits), []
        self._rows = 0
        for i, hello in enumerate(hellos or [None]):
            last = i == max(len(hellos), 1) - 1
            self._seq += 1
            self._sender.send(WorkerBatch(
                pid=self.pid, seq=self._seq, rows=rows if last else b"", texts=texts if last else (),
                hello=hello, waits=waits if last else (), goodbye=goodbye and last,
            ))
        self._last_flush = time.monotonic()

    def _flush_loop(self) -> None:
        while not self._closed:
            self._pending.wait()
            if self._closed:
                return
            time.sleep(FLUSH_S)  # let a batch gather
            self._pending.clear()
            self.flush()

    def close(self) -> None:
        """Send what is left with a goodbye; the recorder is unusable afterwards."""
        if self._closed:
            return
        self.flush(goodbye=True)
        self._closed = True
        self._pending.set()


_recorder: Recorder | None = None
_thread_local = threading.local()


def _reader() -> SchedstatReader:
    """This thread's schedstat reader, opened on first use (after fork, never inherited)."""
    reader = getattr(_thread_local, "reader", None)
    if reader is None or getattr(_thread_local, "pid", None) != os.getpid():
        reader = SchedstatReader()
        _thread_local.reader = reader
        _thread_local.pid = os.getpid()
        _thread_local.tid = threading.get_native_id()
    return reader


def _on_sigterm(signum: int, frame: Any) -> None:
    """Flush buffered events, then die by SIGTERM as if no handler were installed."""
    if _recorder is not None:
        try:
            _recorder.flush(goodbye=False)
        except Exception:  # noqa: BLE001 - dying anyway; the engine rebuilds what is missing
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def worker_init(address: str, user_init: str = "", user_args: tuple[Any, ...] = ()) -> None:
    """Pool initializer: connect to the engine, announce this worker, arm the exit flush.

    SIGINT is ignored in workers: Ctrl-C in a terminal reaches the whole process group, and the
    parent, not each worker, decides how a run ends.
    """
    global _recorder
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if user_init:
        resolve(user_init)(*user_args)
    _recorder = Recorder(address)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Finalizers with an exit priority run in multiprocessing children at normal exit (atexit
    # does not: children leave through os._exit).
    util.Finalize(None, _recorder.close, exitpriority=100)
    announce_thread("process")


def announce_thread(kind: str, name: str = "") -> None:
    """Send this thread's hello (called once per worker process or worker thread)."""
    pid = os.getpid()
    created = process_created_ns(pid) if kind == "process" else None
    now = time.monotonic_ns()
    reader = _reader()
    assert _recorder is not None
    _recorder.hello(WorkerHello(
        pid=pid, tid=threading.get_native_id(), created_ns=created if created is not None else now,
        ready_ns=now, schedstat=reader.available, kind=kind, name=name,
    ))


def connect_threads(address: str) -> None:
    """Use a Recorder in this process without the process-worker setup (thread pools, serial)."""
    global _recorder
    if _recorder is None or _recorder.pid != os.getpid():
        _recorder = Recorder(address)


def recorder() -> Recorder | None:
    """This process's recorder, if it is a worker."""
    return _recorder


def run_task(call: TaskCall) -> None:
    """Run one task under measurement. Never raises; the outcome travels as events."""
    rec = _recorder
    if rec is None:  # not a procviz worker: run plainly
        resolve(call.function)(*call.args)
        return None
    reader = _reader()
    tid = _thread_local.tid
    measured = reader.available
    rec.flush_if_quiet()
    r0 = reader.read()[1] if measured else 0
    c0 = time.thread_time_ns()
    t0 = time.monotonic_ns()
    rec.event(EventKind.START, 0, tid, call.task_id, t0, 0, 0)
    status = TaskState.DONE
    text: TaskText | None = None
    try:
        result = resolve(call.function)(*call.args)
        if call.report_result:
            text = TaskText(call.task_id, "result", type(result).__name__, _short_repr(result))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes data, SystemExit included
        status = TaskState.FAILED
        text = TaskText(call.task_id, "error", type(exc).__qualname__, _clip(_safe_str(exc)),
                        _clip("".join(traceback.format_exception(exc))))
    t1 = time.monotonic_ns()
    c1 = time.thread_time_ns()
    ready = reader.read()[1] - r0 if measured else -1
    if text is not None:
        rec.text(text)
    rec.event(EventKind.END, status, tid, call.task_id, t1, c1 - c0, ready)
    return None


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        return f"<{type(exc).__name__}: str() failed>"


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_RESULT_TEXT else text[: MAX_RESULT_TEXT - 1] + "…"


def _clip(text: str) -> str:
    # Lone surrogates (from bytes decoded with surrogateescape) cannot be pickled into UTF-8 later
    # by JSON writers; replace them here, where the text is made.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT // 2] + "\n…\n" + text[-MAX_TEXT // 2 :]
