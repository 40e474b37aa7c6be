"""Worker side: the initializer and the task wrapper that measure every task.

In each worker process (or thread, for thread pools) a :class:`Recorder` packs task events into a
preallocated buffer with ``struct.pack_into`` and sends them to the engine in batches:

* a batch goes out when ``FLUSH_ROWS`` events are buffered, from a flusher thread at most
  ``FLUSH_S`` after the first buffered event (so a long task shows as running while it runs), at
  a task start when nothing was sent for ``FLUSH_S`` (long tasks: no flusher latency), and at exit
  (normal exit through a multiprocessing finalizer; SIGTERM through a handler that flushes and
  then dies by the same signal, so exit codes stay true).
* per task, :func:`run_chunk` (a whole Pool chunk in one call; :func:`run_task` is a chunk of
  one) reads ``time.monotonic_ns()`` and either ``time.thread_time_ns()`` or the thread's own
  ``/proc/thread-self/schedstat`` (run-queue wait too) at start and end. Waiting (blocked) time is
  derived later as wall - cpu - ready. Where schedstat is missing, ready is sent as -1:
  unmeasured, never invented.

Exceptions of any kind (``BaseException``: ``SystemExit``, ``KeyboardInterrupt`` too) become a
FAILED end event plus a :class:`TaskText` with the type, message and traceback. The wrapper
returns ``None`` to the pool either way, so no exception ever travels through the pool's result
pipe, where one that pickles but cannot be unpickled would kill the pool's result thread.
"""

from __future__ import annotations

import os
import reprlib
import signal
import struct
import threading
import time
import traceback
from collections.abc import Sequence
from itertools import repeat
from multiprocessing import util
from typing import Any

from procviz.engine.worker.channel import EventSender
from procviz.engine.worker.clock import SchedstatReader, process_created_ns
from procviz.engine.worker.task_slot import TaskSlot
from procviz.engine.worker.wire import (
    WIRE_EVENT_STRUCT,
    EventKind,
    LaneKind,
    TaskState,
    TaskText,
    WaitSpan,
    WorkerBatch,
    WorkerHello,
)
from procviz.engine.worker.workloads import _cache as _functions
from procviz.engine.worker.workloads import resolve

FLUSH_ROWS = 2048  # 96 KiB of rows: few datagrams (the kernel queues only ~10 per socket)
FLUSH_S = 0.010
FLUSH_NS = int(FLUSH_S * 1e9)
# Plain ints in the hot path: packing an IntEnum goes through __index__, measurably slower.
_START, _END, _DONE, _FAILED = int(EventKind.START), int(EventKind.END), int(TaskState.DONE), int(TaskState.FAILED)
_pack_into = WIRE_EVENT_STRUCT.pack_into
_ROW = WIRE_EVENT_STRUCT.size
_monotonic_ns, _thread_time_ns, _pread = time.monotonic_ns, time.thread_time_ns, os.pread  # one lookup each
# A task's START and END rows packed in one call (the usual case: START goes out with its END).
_pack_two = struct.Struct("<" + 2 * WIRE_EVENT_STRUCT.format.lstrip("<")).pack_into
FINE_NS = 200_000  # tasks at least this long measure run-queue wait (see _ThreadMeter)
MAX_TEXT = 4000  # characters kept of a message or a traceback
MAX_RESULT_TEXT = 200
MAX_TEXT_BYTES = 64 * 1024  # texts per datagram before it is sent (see channel.MAX_DATAGRAM)


# A task as it travels to a worker on its own (apply, apply_async, submit): (task id, positional
# arguments), a plain tuple. The function and whether to report its result are the same for every
# task of a run, so they travel bound with functools.partial(run_task, function, report).
TaskItem = tuple[int, tuple[Any, ...]]
# A Pool chunk as it travels (map, imap, starmap), run by :func:`run_chunk` in one call: (task ids,
# the arguments every task takes or None, each task's arguments or None). Ids are a ``range`` when
# consecutive, and arguments that every task shares travel once: a chunk of a no-op run pickles to
# a few dozen bytes. Against an item and a call per task, this took the worker CPU added per
# no-op task from 2.16 to 1.59 us (benchmarks/bench_worker.py, load 5).
ChunkItem = tuple[Sequence[int], tuple[Any, ...] | None, Sequence[tuple[Any, ...]] | None]


class Recorder:
    """Buffers one worker's events and sends them as :class:`WorkerBatch` datagrams.

    Thread-safe: a thread pool's workers share one Recorder (one process, one socket), and the
    flusher thread sends while tasks record.
    """

    def __init__(self, address: str) -> None:
        self.pid = os.getpid()
        self.address = address
        self._sender = EventSender(address)
        self.slot = TaskSlot(address).ids  # the task this process is in, readable after its death
        # Two locks: ``_lock`` guards the buffers for a few hundred ns per event; ``_send_lock``
        # orders datagrams. A send can block (the kernel queues few datagrams per socket), and
        # recording tasks must not wait for it unless the buffer itself is full.
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._buf = bytearray(_ROW * FLUSH_ROWS * 2)
        self._rows = 0
        self._meters: list[_ThreadMeter] = []  # the threads recording here: their running task
        self._texts: list[TaskText] = []
        self._text_bytes = 0
        self._waits: list[WaitSpan] = []
        self._hellos: list[WorkerHello] = []
        self._seq = 0
        self.last_flush_ns = time.monotonic_ns()
        self._pending = threading.Event()
        self._armed = False  # a flush is already scheduled (cheaper to test than Event.is_set)
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_loop, name="procviz-flusher", daemon=True)
        self._flusher.start()

    # ---- recording (hot path) -------------------------------------------------------------------

    def adopt(self, meter: _ThreadMeter) -> None:
        """Record the tasks of ``meter``'s thread here (its running task is sent by flushes)."""
        with self._lock:
            self._meters.append(meter)
        meter.recorder = self

    def add_text_locked(self, text: TaskText) -> bool:
        """Buffer a task's text (the lock held); True once the texts buffered call for a send."""
        self._texts.append(text)
        self._text_bytes += len(text.message) + len(text.traceback) + len(text.type_name) + 64
        return self._text_bytes >= MAX_TEXT_BYTES

    def arm(self) -> None:
        """Have the flusher send what is buffered within FLUSH_S."""
        self._armed = True
        self._pending.set()

    def wait_span(self, span: WaitSpan) -> None:
        """Buffer a span spent blocked in an instrumented primitive."""
        with self._lock:
            self._waits.append(span)
        self._pending.set()

    def hello(self, hello: WorkerHello) -> None:
        """Announce a worker (process or thread) and send it at once."""
        with self._lock:
            self._hellos.append(hello)
        self.flush()

    # ---- sending --------------------------------------------------------------------------------

    def flush(self, goodbye: bool = False, timeout_s: float = -1) -> bool:
        """Send everything buffered; False if the locks were not had within ``timeout_s``.

        The timeout is for the SIGTERM handler: it runs on the main thread, possibly while that
        thread is inside :meth:`event` or a send holding a lock, where waiting would deadlock.
        """
        if not self._send_lock.acquire(timeout=timeout_s):
            return False
        try:
            if not self._lock.acquire(timeout=timeout_s):
                return False
            try:
                batches = self._take_locked(goodbye)
            finally:
                self._lock.release()
            for batch in batches:
                self._sender.send(batch)
            self.last_flush_ns = time.monotonic_ns()
        finally:
            self._send_lock.release()
        return True

    def _take_locked(self, goodbye: bool) -> list[WorkerBatch]:
        """Empty the buffers into numbered batches (a hello travels in a batch of its own)."""
        hellos, self._hellos = self._hellos, []
        for meter in self._meters:  # tasks running now: say so
            if meter.pending_start:
                meter.pending_start = False
                offset = self._rows * _ROW
                if offset + _ROW > len(self._buf):
                    self._buf.extend(bytes(len(self._buf)))
                _pack_into(self._buf, offset, _START, 0, meter.tid, meter.task_id, meter.t0, 0, 0, 0)
                self._rows += 1
        if not (self._rows or self._texts or self._waits or hellos or goodbye):
            return []
        rows = bytes(memoryview(self._buf)[: self._rows * _ROW])  # one copy, not two
        texts, self._texts = tuple(self._texts), []
        self._text_bytes = 0
        waits, self._waits = tuple(self._waits), []
        self._rows = 0
        out = []
        for hello in hellos:
            self._seq += 1
            out.append(WorkerBatch(pid=self.pid, seq=self._seq, rows=b"", hello=hello))
        if rows or texts or waits or goodbye or not hellos:
            self._seq += 1
            out.append(WorkerBatch(pid=self.pid, seq=self._seq, rows=rows, texts=texts, waits=waits,
                                   goodbye=goodbye))
        return out

    def _flush_loop(self) -> None:
        _block_sigterm()  # for the main thread, where its handler runs (see _forward_sigterm)
        while not self._closed:
            self._pending.wait()
            if self._closed:
                return
            time.sleep(FLUSH_S)  # let a batch gather
            self._pending.clear()
            self._armed = False
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


class _ThreadMeter:
    """Per worker thread: its schedstat descriptor and native thread id, opened on first use.

    ``fine`` says whether the next task reads schedstat (run-queue wait measured): yes while this
    thread's tasks last at least ``FINE_NS``; after a shorter one, no. Two schedstat reads cost
    ~2-5 us, as much as a no-op task itself, where two thread-CPU-clock reads cost ~1 us; a task
    shorter than FINE_NS can spend at most that in the run queue, and says so: unmeasured (-1).
    """

    __slots__ = ("reader", "fd", "tid", "fine", "recorder", "task_id", "t0", "pending_start")

    def __init__(self) -> None:
        self.reader = SchedstatReader()
        self.fd = self.reader._fd  # read directly in the hot path: one pread, no method call
        self.tid = threading.get_native_id()
        self.fine = True
        # This thread's task, as the recorder it records into sees it (Recorder.begin/end).
        self.recorder: Recorder | None = None
        self.task_id = -1
        self.t0 = 0
        self.pending_start = False  # its START row is owed to the engine


def _meter() -> _ThreadMeter:
    meter = getattr(_thread_local, "meter", None)
    if meter is None:
        meter = _thread_local.meter = _ThreadMeter()
    return meter


def _reader() -> SchedstatReader:
    """This thread's schedstat reader."""
    return _meter().reader


def _forget_after_fork() -> None:
    # A forked child must not reuse the parent's descriptors (they name the parent's thread) nor
    # its socket and flusher thread.
    global _recorder, _thread_local
    _recorder = None
    _thread_local = threading.local()


os.register_at_fork(after_in_child=_forget_after_fork)


def _on_sigterm(signum: int, frame: Any) -> None:
    """Flush buffered events, then die by SIGTERM as if no handler were installed."""
    if _recorder is not None:
        try:
            _recorder.flush(goodbye=False, timeout_s=0.2)
        except Exception:  # noqa: BLE001 - dying anyway; the engine rebuilds what is missing
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _block_sigterm() -> None:
    """Keep SIGTERM off the calling thread (it is the main thread's to handle)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _forward_sigterm(read_fd: int, main_ident: int) -> None:
    """Hand every SIGTERM this process receives to its main thread, whichever thread took it.

    A Python signal handler runs only in the main thread, when it next runs Python code. The
    kernel may deliver SIGTERM to another thread (the lifeline's, a library's); the main thread of
    an idle Pool worker then stays blocked in the task queue's lock, uninterrupted, its handler
    never run, the worker alive after SIGTERM (seen in 1 of ~12 ``Pool.terminate()`` calls). The
    signal module writes each signal's number to its wakeup descriptor from any thread: read here,
    and sent on to the main thread, whose blocked wait it interrupts.
    """
    _block_sigterm()
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM in data:
            signal.pthread_kill(main_ident, signal.SIGTERM)


def _arm_sigterm() -> None:
    """Install the SIGTERM handler (flush, then die by SIGTERM) and its forwarder (main thread only)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not hasattr(signal, "pthread_kill"):
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # not the main thread: the handler alone
        os.close(read_fd)
        os.close(write_fd)
        return
    threading.Thread(target=_forward_sigterm, args=(read_fd, threading.main_thread().ident),
                     name="procviz-sigterm", daemon=True).start()


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
    _arm_sigterm()
    # Finalizers with an exit priority run in multiprocessing children at normal exit (atexit
    # does not: children leave through os._exit).
    util.Finalize(None, _recorder.close, exitpriority=100)
    announce_thread(LaneKind.PROCESS)


def announce_thread(kind: LaneKind, name: str = "") -> None:
    """Send this thread's hello (called once per worker process or worker thread)."""
    pid = os.getpid()
    created = process_created_ns(pid) if kind == LaneKind.PROCESS else None
    now = time.monotonic_ns()
    reader = _reader()
    assert _recorder is not None
    cpu, wait = reader.read() if reader.available else (-1, -1)  # the engine's baseline at ready_ns
    _recorder.hello(WorkerHello(
        pid=pid, tid=threading.get_native_id(), created_ns=created if created is not None else now,
        ready_ns=now, schedstat=reader.available, kind=kind, name=name, cpu_ns=cpu, wait_ns=wait,
    ))


def connect_threads(address: str) -> None:
    """Use a Recorder in this process without the process-worker setup (thread pools, serial)."""
    global _recorder
    if _recorder is not None and _recorder.pid == os.getpid() and _recorder.address != address:
        _recorder.close()  # still connected to an earlier run's engine
        _recorder = None
    if _recorder is None or _recorder.pid != os.getpid():
        _recorder = Recorder(address)


def disconnect_threads() -> None:
    """Flush and drop this process's recorder (a run that recorded from this process has ended)."""
    global _recorder
    if _recorder is not None and _recorder.pid == os.getpid():
        _recorder.close()
    _recorder = None


def recorder() -> Recorder | None:
    """This process's recorder, if it is a worker."""
    return _recorder


def run_task(function: str, report: bool, item: TaskItem) -> None:
    """Run one task, ``function(*args)``, under measurement (a chunk of one: see :func:`run_chunk`)."""
    run_chunk(function, report, ((item[0],), item[1], None))


def run_chunk(function: str, report: bool, chunk: ChunkItem) -> None:
    """Run a chunk's tasks one after another, each under measurement. Never raises; the outcome
    travels as events.

    Per task, on-CPU and run-queue wait both come from one read of the thread's schedstat (fields
    1 and 2) before and after the call; ``thread_time_ns`` is used where schedstat is missing and
    after a task shorter than ``FINE_NS`` (ready then unmeasured, see :class:`_ThreadMeter`). The
    wall window (``monotonic_ns`` before and after) encloses the CPU window, so a task's on-CPU
    time never exceeds its wall time. ``report`` sends a short repr of the result unless it is
    None (function workloads).

    Everything per chunk is looked up once (function, recorder, meter, buffer, lock); per task
    the loop stores the running task where a flush (its START, for a long task) and a crash (the
    task slot) can see it, reads the clocks, calls, and packs the task's rows under the lock.
    """
    ids, shared, each = chunk
    fn = _functions.get(function) or resolve(function)
    rec = _recorder
    args_of = each if each is not None else repeat(shared or ())  # the same tuple for every task
    if rec is None:  # not a procviz worker: run plainly
        for _, args in zip(ids, args_of, strict=False):
            fn(*args)
        return None
    try:
        meter = _thread_local.meter
    except AttributeError:
        meter = _meter()
    if meter.recorder is not rec:
        rec.adopt(meter)
    slot, buf, tid, fd = rec.slot, rec._buf, meter.tid, meter.fd
    acquire, release = rec._lock.acquire, rec._lock.release
    mono, thread_time, pread, pack_into, pack_two = _monotonic_ns, _thread_time_ns, _pread, _pack_into, _pack_two
    fine = meter.fine
    for task_id, args in zip(ids, args_of, strict=False):
        t0 = mono()
        # The task has begun. No lock, no allocation and no row here: the START row goes into the
        # buffer with the END row (one lock per task, below), or earlier if a batch is sent while
        # the task runs (a long task shows as running). ``pending_start`` is set last: a flush that
        # sees it sees this task's id and time. Only the first task after a send arms the flusher.
        meter.task_id = task_id
        meter.t0 = t0
        meter.pending_start = True
        slot[0] = task_id  # the task this process is in, readable after its death (task_slot.py)
        if not rec._armed:
            rec.arm()
        if t0 - rec.last_flush_ns >= FLUSH_NS:
            rec.flush()  # nothing sent for a while: this may be a long task, show it running now
        if fine:
            f = pread(fd, 96, 0).split()
            c0, r0 = int(f[0]), int(f[1])
        else:
            c0 = thread_time()
        try:
            result = fn(*args)
            error = None
        except BaseException as exc:  # noqa: BLE001 - every failure becomes data, SystemExit included
            result, error = None, exc
        if fine:
            f = pread(fd, 96, 0).split()
            cpu, ready = int(f[0]) - c0, int(f[1]) - r0
        else:
            cpu, ready = thread_time() - c0, -1
        t1 = mono()
        slot[0] = -2 - task_id  # task_slot.finished(task_id): a death from here on is not this task's
        wall = t1 - t0
        fine = wall >= FINE_NS and fd >= 0
        # The CPU window [c0, c1] lies inside the wall window [t0, t1], so on-CPU cannot exceed
        # wall; the clamp only guards clocks of coarser grain (the thread_time fallback on some hosts).
        if cpu > wall:
            cpu = wall
        if ready > wall - cpu:
            ready = wall - cpu
        status = _DONE if error is None else _FAILED
        # Texts are made after the clocks stopped: formatting is procviz's cost, not the task's.
        text = None if error is None and (result is None or not report) else _task_text(task_id, result, error)
        # The task's START row (unless a flush sent it already) and its END row, with its text, so
        # one datagram carries them. ``acquire``, not ``with``: ~200 ns less per task.
        acquire()
        try:
            rows = rec._rows
            if (rows + 2) * _ROW > len(buf):  # other threads kept recording while a send blocked
                buf.extend(bytes(len(buf)))
            if meter.pending_start:
                meter.pending_start = False
                pack_two(buf, rows * _ROW, _START, 0, tid, task_id, t0, 0, 0, 0,
                         _END, status, tid, task_id, t1, cpu, ready, 0)
                rows += 2
            else:
                pack_into(buf, rows * _ROW, _END, status, tid, task_id, t1, cpu, ready, 0)
                rows += 1
            rec._rows = rows
            # Texts are the only large part of a batch: past MAX_TEXT_BYTES of them the batch
            # goes out, keeping every datagram far below what one datagram can hold.
            full = (text is not None and rec.add_text_locked(text)) or rows >= FLUSH_ROWS
        finally:
            release()
        if full:
            rec.flush()
        elif not rec._armed:  # the flusher went off while the task ran: this END must go too
            rec.arm()
    meter.fine = fine  # for this thread's next chunk
    return None


def _task_text(task_id: int, result: Any, error: BaseException | None) -> TaskText:
    """The text of a failed task (type, message, traceback) or of a task's result (a short repr).

    A result of None says nothing: no text (a million of them cost seconds); callers skip it.
    """
    if error is not None:
        return TaskText(task_id, "error", type(error).__qualname__, _clip(_safe_str(error)),
                        _clip("".join(traceback.format_exception(error))))
    return TaskText(task_id, "result", type(result).__name__, _short_repr(result))


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        return f"<{type(exc).__name__}: str() failed>"


class _BoundedRepr(reprlib.Repr):
    """reprlib with bytes cut *before* repr (its default would repr 200 MB whole first)."""

    def repr_bytes(self, obj: bytes, level: int) -> str:
        return repr(obj[: self.maxstring]) + ("…" if len(obj) > self.maxstring else "")

    repr_bytearray = repr_bytes


_repr = _BoundedRepr()
_repr.maxstring = _repr.maxother = MAX_RESULT_TEXT
_repr.maxlong = 60


def _short_repr(value: Any) -> str:
    try:
        text = _repr.repr(value)  # bounded: a 200 MB result must not be repr'd whole
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_RESULT_TEXT else text[: MAX_RESULT_TEXT - 1] + "…"


def _clip(text: str) -> str:
    # Lone surrogates (from bytes decoded with surrogateescape) cannot be pickled into UTF-8 later
    # by JSON writers; replace them here, where the text is made.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT // 2] + "\n…\n" + text[-MAX_TEXT // 2 :]
