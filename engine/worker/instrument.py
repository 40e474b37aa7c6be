"""Worker side: the initializer and the task wrapper that measure every task.

In each worker process (or thread, for thread pools) a :class:`~procviz.engine.worker.recorder.Recorder`
sends the events that :func:`run_chunk` records; see :mod:`procviz.engine.worker.recorder` for how
and when rows travel.

Per task, :func:`run_chunk` (a whole Pool chunk in one call; :func:`run_task` is a chunk of one)
reads ``time.monotonic_ns()`` at start and end and packs one SPAN row: the task's start, end, CPU
and run-queue wait. A task of at least ``FINE_NS`` reads ``time.thread_time_ns()`` and the
run-queue wait in the thread's own ``/proc/thread-self/schedstat`` at its start and end; shorter
ones share one monotonic reading between two tasks (one task's end is the next one's start) and
one CPU clock reading per group of ``GROUP_NS`` of them, which settles each task's on-CPU time or
says it is unmeasured (-1: see :mod:`procviz.engine.worker.group_readings`). Waiting (blocked)
time is derived later as wall - cpu - ready. Where schedstat is missing, or for a task shorter
than ``FINE_NS``, ready is sent as -1: unmeasured, never invented. A task of at least ``FINE_NS``
that came after a shorter one (so in the short tasks' loop) has the run-queue wait that its
group's schedstat readings pin down (one at the group's start, one after the task).

Exceptions of any kind (``BaseException``: ``SystemExit``, ``KeyboardInterrupt`` too) become a
FAILED row plus a :class:`TaskText` with the type, message and traceback. The wrapper returns
``None`` to the pool either way, so no exception ever travels through the pool's result pipe,
where one that pickles but cannot be unpickled would kill the pool's result thread.
"""

from __future__ import annotations

import multiprocessing
import os
import reprlib
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from itertools import repeat
from multiprocessing import util
from multiprocessing.reduction import ForkingPickler
from typing import Any

from procviz.engine.worker.clock import SchedstatReader, process_created_ns
from procviz.engine.worker.group_readings import close_group as _close_group
from procviz.engine.worker.group_readings import settle_ready as _settle_ready
from procviz.engine.worker.recorder import FLUSH_NS, ROW, Recorder, ThreadMeter, block_sigterm
from procviz.engine.worker.task_slot import NO_GROUP
from procviz.engine.worker.wire import (
    PAYLOAD_OFFSET,
    PAYLOAD_PACKER,
    LaneKind,
    TaskState,
    TaskText,
    WorkerHello,
)
from procviz.engine.worker.workloads import _cache as _functions
from procviz.engine.worker.workloads import resolve

# Plain ints in the hot path: packing an IntEnum goes through __index__, measurably slower.
_DONE, _FAILED = int(TaskState.DONE), int(TaskState.FAILED)
_pack_payload = PAYLOAD_PACKER.pack_into
_monotonic_ns, _thread_time_ns, _pread = time.monotonic_ns, time.thread_time_ns, os.pread  # one lookup each
FINE_NS = 200_000  # tasks at least this long measure run-queue wait (see ThreadMeter)
# Short tasks read the thread's CPU clock once per group of at least this much wall time (see
# _run_coarse): ~20-40 no-op tasks share one system call.
GROUP_NS = 20_000
MAX_TEXT = 4000  # characters kept of a message or a traceback
MAX_RESULT_TEXT = 200


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


_recorder: Recorder | None = None
_thread_local = threading.local()
_UNKNOWN: Any = object()
_task_queue: Any = _UNKNOWN  # this Pool worker's task queue (see _no_task_waits), once looked up
_sender: Any = _UNKNOWN  # how this process would send a result back (see _result_sender), once looked up


def _meter() -> ThreadMeter:
    meter = getattr(_thread_local, "meter", None)
    if meter is None:
        meter = _thread_local.meter = ThreadMeter()
    return meter


def _reader() -> SchedstatReader:
    """This thread's schedstat reader."""
    return _meter().reader


def _forget_after_fork() -> None:
    # A forked child must not reuse the parent's descriptors (they name the parent's thread) nor
    # its socket and flusher thread.
    global _recorder, _thread_local, _task_queue, _sender
    _recorder = None
    _thread_local = threading.local()
    _task_queue = _UNKNOWN
    _sender = _UNKNOWN


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


def _forward_sigterm(read_fd: int, main_ident: int) -> None:
    """Hand every SIGTERM this process receives to its main thread, whichever thread took it.

    A Python signal handler runs only in the main thread, when it next runs Python code. The
    kernel may deliver SIGTERM to another thread (the lifeline's, a library's); the main thread of
    an idle Pool worker then stays blocked in the task queue's lock, uninterrupted, its handler
    never run, the worker alive after SIGTERM (seen in 1 of ~12 ``Pool.terminate()`` calls). The
    signal module writes each signal's number to its wakeup descriptor from any thread: read here,
    and sent on to the main thread, whose blocked wait it interrupts.
    """
    block_sigterm()
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
    util.Finalize(None, _recorder.close, kwargs={"final": True}, exitpriority=100)
    announce_thread(LaneKind.PROCESS)


def announce_thread(kind: LaneKind, name: str = "") -> None:
    """Send this thread's hello (called once per worker process or worker thread)."""
    pid = os.getpid()
    created = process_created_ns(pid) if kind == LaneKind.PROCESS else None
    now = time.monotonic_ns()
    reader = _reader()
    assert _recorder is not None
    _thread_time_ns()  # brings the kernel's count of this thread's on-CPU time up to date for the read
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

    The tasks run in two loops that hand over to each other: :func:`_run_fine` while this thread's
    tasks last at least ``FINE_NS`` (on-CPU from the thread's CPU clock and run-queue wait from
    one read of its schedstat, before and after the call), :func:`_run_coarse` after a shorter one
    (one monotonic reading between two tasks, the CPU clock once per group of tasks, ready
    unmeasured). In the first, the wall window (``monotonic_ns`` before and after) encloses the CPU
    window; in the second a group's CPU window encloses its wall window and each task gets what the
    two pin down. Either way a task's on-CPU time never exceeds its wall time (the engine clamps
    too). ``report`` sends a short repr of the result unless it is None (function workloads).
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
    meter.busy = True  # before the check: see Recorder._flush_loop
    if not rec._armed:
        rec.arm()
    tasks = zip(ids, args_of, strict=False)
    # A Pool's or a ProcessPoolExecutor's worker pickles each result to send it back, and a result
    # that cannot be pickled fails its task there; procviz's wrapper returns none, so it pickles
    # each result itself (after the task's windows, as the pool would) and fails the task alike.
    sender = _result_sender() if report else ""
    try:
        while (_run_fine if meter.fine else _run_coarse)(rec, meter, fn, report, tasks, sender):
            pass
    finally:
        meter.busy = False
    # Between chunks: send now if a send is due, or if no task waits for this worker (the end of a
    # run, or the pool's parent lagging): its last rows need not wait for the flusher.
    if _monotonic_ns() - rec.last_flush_ns >= FLUSH_NS or _no_task_waits():
        rec.flush()
    return None


def _no_task_waits() -> bool:
    """Whether this ``multiprocessing.Pool`` worker's task queue is empty right now (one poll of its
    pipe); False in any other process or thread, where it cannot be told."""
    global _task_queue
    queue = _task_queue
    if queue is _UNKNOWN:
        queue = _task_queue = _pool_task_queue()
    if queue is None:
        return False
    try:
        return bool(queue.empty())
    except (OSError, ValueError, EOFError):  # the pool is closing its pipes
        return False


def _pool_task_queue() -> Any:
    """The queue a ``multiprocessing.Pool`` worker process takes its tasks from (the first argument
    of its process's target, ``multiprocessing.pool.worker``); None elsewhere. (An executor's
    call queue is fed a task or two at a time: empty between tasks without being the end.)"""
    if threading.current_thread() is not threading.main_thread():
        return None
    proc = multiprocessing.current_process()
    target, args = getattr(proc, "_target", None), getattr(proc, "_args", ())
    if getattr(target, "__module__", "") != "multiprocessing.pool" or getattr(target, "__name__", "") != "worker":
        return None
    queue = args[0] if args else None
    return queue if callable(getattr(queue, "empty", None)) else None


def _run_coarse(rec: Recorder, meter: ThreadMeter, fn: Any, report: bool, tasks: Iterator[Any],
                sender: str = "") -> bool:
    """Run ``tasks`` while each is shorter than FINE_NS; True if one was not (the rest go to
    :func:`_run_fine`), False once they are all done.

    The hot path of a run of small tasks, so everything is looked up once, and per task the loop
    does only what it must: store the task where a flush (its START, for a long task) and a crash
    (the task slot) can see it, call, read the monotonic clock, and pack one row into this
    thread's ring. Everything rarer (a failure, a result to report, the ring's end or a batch to
    send, a long task) sets ``stop`` to 0 or takes the group's test into the slow part below.

    Consecutive tasks share their clock boundary: one reading of the monotonic clock after a task
    is its end and the next task's start. So a task's window also holds the previous task's
    bookkeeping (its row packed, the loop's test, the next item taken: ~0.1-0.2 us), and the loop's
    turn, where a thread pool's thread may hand the GIL over.

    On-CPU is read per *group* of tasks, not per task: the thread's CPU clock is a system call
    (no vDSO for CLOCK_THREAD_CPUTIME_ID on Linux: 0.3-0.7 us, most of what this loop costs a
    no-op task), so it is read when a group opens and once at least ``GROUP_NS`` of wall time
    has passed since (at the end of the task that took it there), and at every exit and slow
    part. The CPU window encloses the group's wall window. A group's rows are packed with on-CPU
    = wall, provisionally, and published (a flush may send them) only once the group's reading
    settles them (``group_readings.settle_group``): a thread on CPU for the whole group was on CPU for
    each of its tasks, and otherwise each task keeps what the group's reading pins down, or says
    unmeasured (-1). A task that lasts ``GROUP_NS`` or more closes its group: a group holds at
    most one such task, as its last. While a group is open, the task slot says since when
    (``slot[2]``): the engine reading a ring takes the open group's rows as unmeasured. After a
    group off CPU, the following tasks are read one by one for a while (``SOLO_TASKS``, doubled
    each time the next try fails too): short tasks that each block or wait a little keep their
    on-CPU times, at the old cost of a CPU clock reading each.

    Ready (run-queue wait) is -1 for the short tasks (see ThreadMeter). Each group also reads
    schedstat's run-queue wait as it opens (one ``pread`` a group, not a task): a task of at least
    FINE_NS, which closes its group and hands over to :func:`_run_fine`, gets the wait that reading
    and one after it pin down (``group_readings.settle_ready``). It was unmeasured: in a run alternating short
    and long tasks, every long one.
    """
    slot, ring, off, fd = meter.ids, meter.ring, meter.off, meter.fd
    mono, thread_time, pack, pread = _monotonic_ns, _thread_time_ns, _pack_payload, _pread
    row, group_ns, fine_ns = ROW, GROUP_NS, FINE_NS  # locals: a little cheaper than globals, per task
    solo, backoff = meter.solo, meter.backoff
    base, stop = meter.room(off)
    base -= PAYLOAD_OFFSET  # the ring holds each row's kind, status and thread: the loop packs the rest
    status = _DONE
    r0 = int(pread(fd, 96, 0).split()[1]) if fd >= 0 else 0  # the group's run-queue wait so far
    c0 = thread_time()  # the group's CPU window opens before its wall window
    t0 = g0 = mono()  # a fresh boundary: the first task's start, and its group's
    slot[2] = g0
    g_off, g_end = off, g0 + (0 if solo else group_ns)
    for task_id, args in tasks:
        slot[1] = t0  # before the id: a reader that sees the task in the slot sees its start
        slot[0] = task_id  # the task this process is in, readable after its death (task_slot.py)
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes data, SystemExit included
            result, status, stop = exc, _FAILED, 0  # stop: its text, in the slow part
            ring[off - base - PAYLOAD_OFFSET + 1] = _FAILED  # the row's status byte, before it is published
        t1 = mono()  # the boundary: this task's end, and the next one's start
        if result is not None and status == _DONE:
            if sender:
                unsent = _unsendable(result, sender)
                if unsent is not None:
                    result, status, stop = unsent, _FAILED, 0
                    ring[off - base - PAYLOAD_OFFSET + 1] = _FAILED
            if report:
                stop = 0  # its text, in the slow part
        # In the slot's ring, the row says the task ended (its on-CPU time = wall until settled).
        pack(ring, off - base, task_id, t1, t1 - t0, -1, t0)
        off += row
        if t1 >= g_end or off >= stop:
            c1 = thread_time()  # after the wall window's end: the CPU window encloses it
            wall = t1 - t0
            hands_over = wall >= fine_ns and fd >= 0  # (to the schedstat loop: see the docstring)
            if hands_over:
                ready = int(pread(fd, 96, 0).split()[1]) - r0
            settle, solo, backoff = _close_group(ring, g_off - base - PAYLOAD_OFFSET, off - base - PAYLOAD_OFFSET,
                                                 c1 - c0, t1 - g0, solo, backoff)
            if hands_over:
                _settle_ready(ring, off - base - PAYLOAD_OFFSET - row, ready, t1 - g0)
            slot[2] = NO_GROUP
            meter.off = off  # published: a flush may take the group's rows from here on
            if off >= stop:
                # Texts are made after the clocks stopped (formatting is procviz's cost, not the
                # task's) and after the row (a text never travels ahead of its task's end).
                if status != _DONE:
                    meter.failed.append(off - row)
                    rec.add_text(_task_text(task_id, None, result))
                    status = _DONE
                elif report and result is not None:
                    rec.add_text(_task_text(task_id, result, None))
            if hands_over:
                meter.fine = True
                meter.solo, meter.backoff = solo, backoff
                return True
            if off >= stop:
                base, stop = meter.room(off)
                base -= PAYLOAD_OFFSET
                settle = True
            if fd >= 0:
                r0 = int(pread(fd, 96, 0).split()[1])
            if settle:  # a fresh boundary: the slow part is nobody's task (nor the next group's)
                c1 = thread_time()
            t1 = g0 = mono()
            c0, slot[2] = c1, g0
            g_off, g_end = off, g0 + (0 if solo else group_ns)
        t0 = t1
    if off != meter.off:  # the last group
        c1 = thread_time()
        _, solo, backoff = _close_group(ring, g_off - base - PAYLOAD_OFFSET, off - base - PAYLOAD_OFFSET,
                                        c1 - c0, t0 - g0, solo, backoff)
        meter.off = off
    slot[2] = NO_GROUP
    meter.solo, meter.backoff = solo, backoff
    return False


def _run_fine(rec: Recorder, meter: ThreadMeter, fn: Any, report: bool, tasks: Iterator[Any],
              sender: str = "") -> bool:
    """Run ``tasks`` while each lasts at least FINE_NS, reading schedstat (run-queue wait too);
    True if one did not (the rest go to :func:`_run_coarse`), False once they are all done.

    Between two tasks, once FLUSH_S has passed since the last send, this thread sends itself
    (outside every task's windows: a send is procviz's cost, not a task's); a task that begins
    with nothing of this thread's left to send has its START sent at once; the flusher announces
    other long tasks' START (see recorder.py). The row is packed as in :func:`_run_coarse`.
    """
    slot, fd, mono, pread, pack = meter.ids, meter.fd, _monotonic_ns, _pread, _pack_payload
    thread_time, ring, off, row = _thread_time_ns, meter.ring, meter.off, ROW
    base, stop = meter.room(off)
    base -= PAYLOAD_OFFSET
    due = rec.last_flush_ns + FLUSH_NS
    sent = False  # this loop sent after the previous task
    for task_id, args in tasks:
        t0 = mono()
        slot[1] = t0
        slot[0] = task_id
        if off == meter.taken and not sent:
            # Everything of this thread's was sent already (its first task, or after the end of
            # the pool's queue): this task's START goes now, so a long task shows as running at
            # once (the engine times out only the tasks whose start it heard of). Inside the wall
            # window, but once per gap, not per task: in a stream of tasks a row always waits.
            rec.flush()
        sent = False
        # On-CPU from the thread's CPU clock: schedstat's own on-CPU field lags for a running
        # thread (the kernel brings it up to date at a tick or a switch: a read could count up to
        # a tick of the time before the task); its run-queue wait is whole while the thread runs.
        c0 = thread_time()
        r0 = int(pread(fd, 96, 0).split()[1])
        status = _DONE
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes data, SystemExit included
            result, status = exc, _FAILED
            ring[off - base - PAYLOAD_OFFSET + 1] = _FAILED  # the row's status byte, before it is published
        c1 = thread_time()
        r1 = int(pread(fd, 96, 0).split()[1])
        t1 = mono()
        if sender and result is not None and status == _DONE:
            unsent = _unsendable(result, sender)
            if unsent is not None:
                result, status = unsent, _FAILED
                ring[off - base - PAYLOAD_OFFSET + 1] = _FAILED
        pack(ring, off - base, task_id, t1, c1 - c0, r1 - r0, t0)
        off += row
        meter.off = off  # published
        if status != _DONE:
            meter.failed.append(off - row)
            rec.add_text(_task_text(task_id, None, result))
        elif report and result is not None:
            rec.add_text(_task_text(task_id, result, None))
        if t1 - t0 < FINE_NS:
            meter.fine = False
            return True
        if off >= stop or t1 >= due:
            if t1 - rec.last_flush_ns >= FLUSH_NS:  # not sent by another thread meanwhile
                sent = rec.flush()
            base, stop = meter.room(off)
            base -= PAYLOAD_OFFSET
            due = rec.last_flush_ns + FLUSH_NS
    return False


def _result_sender() -> str:
    """How this process sends a task's result back: ``"pool"`` (a ``multiprocessing.Pool``
    worker), ``"executor"`` (a ``ProcessPoolExecutor`` worker), ``""`` where results are not
    pickled (threads; procviz's own Process per task and serial child, whose results go nowhere)."""
    global _sender
    if _sender is _UNKNOWN:
        _sender = ""
        if threading.current_thread() is threading.main_thread():
            target = getattr(multiprocessing.current_process(), "_target", None)
            where = (getattr(target, "__module__", ""), getattr(target, "__name__", ""))
            _sender = _SENDERS.get(where, "")
    return str(_sender)


_SENDERS = {("multiprocessing.pool", "worker"): "pool", ("concurrent.futures.process", "_process_worker"): "executor"}
_pickle_result = ForkingPickler.dumps  # as the pools pickle results (their own reducers included)


class _Shown:
    """A value's short repr, standing for the value in an error's text (never the whole value)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _unsendable(result: Any, sender: str) -> BaseException | None:
    """The error the pool's worker would meet sending ``result`` back (None if it pickles): a
    Pool's ``MaybeEncodingError``, or a ProcessPoolExecutor's pickling error itself."""
    try:
        _pickle_result(result)
    except Exception as exc:  # noqa: BLE001 - whatever pickling raises fails the task, as in the pool
        if sender != "pool":
            return exc
        from multiprocessing.pool import MaybeEncodingError  # type: ignore[attr-defined]  # not in typeshed

        return MaybeEncodingError(exc, _Shown(_short_repr(result)))
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
