"""A worker's event buffers and their sending: one :class:`Recorder` per process, a ring per thread.

Each thread that runs tasks packs one 48-byte SPAN row per task (its start, end, CPU and
run-queue wait) into its own ring (:class:`ThreadMeter`); a :class:`Recorder` takes the rings'
rows and sends them to the engine as :class:`WorkerBatch` datagrams:

* from the recording thread itself, between tasks: once ``FLUSH_ROWS`` rows wait (tiny tasks
  fill a batch in a few milliseconds), after a task of at least ``FINE_NS`` that ends ``FLUSH_S``
  after the last send, and at the end of a chunk when the pool's task queue is empty (the end of a run: its last rows go
  at once) or ``FLUSH_S`` has passed;
* from a flusher thread, which looks every ``FLUSH_S`` while a thread is inside a chunk of tasks
  and sends only what the recording threads could not: the START of a task running for
  ``FLUSH_S / 2`` (a long task shows as running while it runs), rows that waited 1.5 ``FLUSH_S``
  (a chunk of tasks shorter than ``FINE_NS``, which look at no clock between tasks but their own).
  A recording thread's own send costs it a few microseconds; a flusher's, when the recording
  thread runs Python, also two hand-overs of the GIL (the flusher waits for it, the task's thread
  waits to get it back), so the flusher leaves the sending to the recording threads;
* at exit (normal exit through a multiprocessing finalizer; SIGTERM through a handler that
  flushes and then dies by the same signal, so exit codes stay true).

The ring has one writer (its thread) and is read only under the recorder's send lock, without a
lock between them: the writer packs a row, then publishes it by storing ``off`` (bytes ever
written); a reader copies the rows below the ``off`` it read and then stores ``taken`` (bytes ever
taken); the writer never writes at or past ``taken + RING_BYTES``. Each of these loads and stores
is one bytecode, atomic under the GIL, so neither side ever sees a half-made row, and the writer
pays no lock per task (a lock was ~15 % of the recording's cost per no-op task).

The task a thread is in travels apart from the ring: its id and its start in ``ThreadMeter.ids``
(the process's task slot for the main thread, see :mod:`procviz.engine.worker.task_slot`); a
flush that finds a thread inside a task sends that task's START row once.
Standard library only (worker side).
"""

from __future__ import annotations

import os
import signal
import struct
import threading
import time
from typing import Any

from procviz.engine.worker.channel import EventSender
from procviz.engine.worker.clock import SchedstatReader
from procviz.engine.worker.task_slot import NO_GROUP, TaskSlot, private_slot
from procviz.engine.worker.wire import (
    PAYLOAD_OFFSET,
    ROW_PACKER,
    WIRE_EVENT_STRUCT,
    EventKind,
    TaskState,
    TaskText,
    WaitSpan,
    WorkerBatch,
    WorkerHello,
)

# Rows per datagram at most: 192 KiB. The kernel queues only net.unix.max_dgram_qlen datagrams
# (10 here) for the engine, which takes them in once per 20 ms pass while tasks are handed out:
# two workers of no-op tasks fill ~13 batches of 2048 rows in 20 ms (their sends then block), ~6 of 4096.
FLUSH_ROWS = 4096
RING_ROWS = 2 * FLUSH_ROWS  # a thread goes on recording while a batch is being sent
# Rows wait at most about this long for a send. The engine folds rows into its timeline every 60 ms
# and the window repaints at ~30 Hz: a shorter wait shows nothing sooner, and every send costs the
# worker CPU (and a GIL hand-over when the flusher sends); 10 ms cost a 10 ms-task run ~+0.5 % CPU.
FLUSH_S = 0.025
FLUSH_NS = int(FLUSH_S * 1e9)
MAX_TEXT_BYTES = 64 * 1024  # texts per datagram before it is sent (see channel.MAX_DATAGRAM)
ROW = WIRE_EVENT_STRUCT.size
FLUSH_BYTES = FLUSH_ROWS * ROW
RING_BYTES = RING_ROWS * ROW
SOLO_TASKS = 64  # see instrument._run_coarse
_FIELD = struct.Struct("<q")  # one 8-byte field of a wire row (worker/wire.py: task id at 8, on-CPU at 24, start at 40)
RETRY_BYTES = 256 * ROW  # a full batch whose send was busy: asked again after this many more rows
_START, _SPAN, _DONE = int(EventKind.START), int(EventKind.SPAN), int(TaskState.DONE)


class ThreadMeter:
    """Per recording thread: its clocks' handles, the task it is in, and the ring of its rows.

    ``fine`` says whether the next task reads schedstat (run-queue wait measured): yes while this
    thread's tasks last at least ``FINE_NS`` (instrument.py); after a shorter one, no. Two
    schedstat reads cost ~2-5 us, many times a no-op task itself, where the short-task loop reads
    the monotonic clock once per task, and the thread's CPU clock and schedstat once per group of
    tasks; a task shorter than FINE_NS can spend at most that in the run queue, and says so:
    unmeasured (-1). (A longer one in that loop gets its wait from its group's readings.)
    """

    __slots__ = ("reader", "fd", "tid", "fine", "recorder", "ring", "off", "taken", "ids", "announced",
                 "busy", "failed", "solo", "backoff")

    def __init__(self) -> None:
        self.reader = SchedstatReader()
        self.fd = self.reader._fd  # read directly in the hot path: one pread, no method call
        self.tid = threading.get_native_id()
        self.fine = self.fd >= 0
        self.recorder: Recorder | None = None
        # Every row's first eight bytes (kind SPAN, status DONE, this thread's id) written once:
        # the hot path packs the other five fields (wire.PAYLOAD_PACKER). A row of another status
        # is noted in ``failed`` and its status byte put back once a reader has taken it. (Task id
        # -1 in a row never written: the task slot's readers look for a task's row, task_slot.py.)
        # Made by start_over: a worker process's main thread records into its task slot's ring,
        # and building a private one first cost each worker ~0.5 ms (384 KiB written twice).
        self.ring: Any = None
        self.failed: list[int] = []  # offsets (bytes ever written) of rows whose status is not DONE
        self.off = 0  # bytes ever written (the writer's)
        self.taken = 0  # bytes ever taken (the readers')
        # ids[0]: the task this thread began last (see running()), ids[1]: its start (task_slot.py)
        self.ids: Any = private_slot()
        self.announced = -1  # the running task whose START a flush sent (the readers')
        self.busy = False  # inside a chunk of tasks: the flusher keeps watching
        # The short-task loop's: tasks still to read one by one, and how many the next time a
        # group of them is found off CPU (instrument._run_coarse).
        self.solo = 0
        self.backoff = SOLO_TASKS

    def _blank(self) -> bytes:
        return ROW_PACKER.pack(_SPAN, _DONE, self.tid, -1, 0, 0, 0, 0) * RING_ROWS

    def start_over(self, recorder: Recorder, ids: Any, ring: Any = None) -> None:
        """Record into ``recorder`` from now on (a new run: nothing buffered is kept), into
        ``ring`` if given (the process's task slot's: shared memory), else into its own."""
        self.restore_status(1 << 62)
        if ring is not None:
            ring[:] = self._blank()
            self.ring = ring
        elif not isinstance(self.ring, bytearray):
            self.ring = bytearray(self._blank())
        self.off = self.taken = 0
        self.announced = -1
        self.ids = ids
        self.recorder = recorder

    def room(self, off: int) -> tuple[int, int]:
        """(base, stop) for the writer at ``off``: its next row goes at ring offset ``off - base``,
        and it calls here again once ``off`` reaches ``stop`` (the ring's end, or a batch's worth
        of rows unsent, which it then sends itself)."""
        unsent = off - self.taken
        if unsent >= FLUSH_BYTES:
            assert self.recorder is not None
            self.recorder.flush(wait=unsent >= RING_BYTES)  # only a full ring waits for a send
        taken = self.taken
        if self.failed:  # before the writer can come back to them (it stops again by taken + RING_BYTES)
            self.restore_status(taken)
        base = off - off % RING_BYTES
        if off - taken < FLUSH_BYTES:
            stop = taken + FLUSH_BYTES
        else:  # another thread is sending: go on, and ask again a little later
            stop = min(taken + RING_BYTES, off + RETRY_BYTES)
        return base, min(stop, base + RING_BYTES)

    def restore_status(self, taken: int) -> None:
        """Put DONE back in the status byte of the rows noted in ``failed`` that lie below
        ``taken`` (a reader has them: the writer may reuse their room)."""
        keep = []
        for off in self.failed:
            if off < taken:
                self.ring[off % RING_BYTES + 1] = _DONE
            else:
                keep.append(off)
        self.failed = keep

    def running(self, off: int) -> int:
        """The task this thread is in, given the rows written up to ``off``; -1 if none. (The slot
        keeps a task's id after it ended: its row, the last written, says it ended.)"""
        task = self.ids[0]
        if task < 0 or off <= 0:
            return task if task >= 0 else -1
        at = (off - ROW) % RING_BYTES + PAYLOAD_OFFSET
        last = int.from_bytes(self.ring[at:at + 8], "little", signed=True)
        return -1 if last == task else task

    def take(self) -> list[bytes]:
        """The rows written since the last take (at most FLUSH_BYTES a piece), then the START of
        the task this thread is in, if no take sent it yet. Only under the send lock.

        In an open group of short tasks (see instrument._run_coarse), whose rows wait for its end:
        the START of a task begun FLUSH_S / 2 ago or more goes after the rows of the tasks before
        it in the group, taken too, their on-CPU times unmeasured (-1: the group's reading is not
        made yet); a task begun less long ago has no START sent yet (it would arrive before them)."""
        ids = self.ids
        first = ids[0]
        t0, off = ids[1], self.off
        running = self.running(off)
        if ids[0] != first:  # another task began meanwhile: t0 may be either's
            running = -1
        out = []
        taken, ring = self.taken, memoryview(self.ring)
        while taken < off:
            at = taken % RING_BYTES
            n = min(off - taken, RING_BYTES - at, FLUSH_BYTES)
            out.append(bytes(ring[at:at + n]))
            taken += n
        announce = running >= 0 and running != self.announced
        if announce and ids[2] < NO_GROUP:  # in an open group of short tasks
            if time.monotonic_ns() - t0 >= FLUSH_NS // 2:
                rows, taken = self._open_group(taken, running)
                out += rows
            else:  # a task that may well end in microseconds: its START would come before the
                announce = False  # rows of the tasks before it (held by their group), not sent
        self.taken = taken  # after the copies: only now may the writer reuse their room
        if announce:
            self.announced = running
            start = WIRE_EVENT_STRUCT.pack(_START, 0, self.tid, running, t0, 0, 0, 0)
            if out and len(out[-1]) < FLUSH_BYTES:
                out[-1] += start
            else:
                out.append(start)
        return out

    def _open_group(self, taken: int, running: int) -> tuple[list[bytes], int]:
        """The rows the writer packed from ``taken`` on in its open group before ``running``'s,
        each on-CPU -1, and the offset after them. Called by a
        reader holding the GIL, which the writer needs to pack: no row is half written. Rows of
        the open group began at its start or later; the first row before it is an older one."""
        opened, ring, out = self.ids[2], self.ring, []
        while taken - self.taken < RING_BYTES - ROW:
            at = taken % RING_BYTES
            row = bytearray(ring[at:at + ROW])
            task, start = _FIELD.unpack_from(row, 8)[0], _FIELD.unpack_from(row, 40)[0]
            if task < 0 or start < opened or task == running:
                break  # (the running task's own row, if it just ended: left to its group's end)
            _FIELD.pack_into(row, 24, -1)
            out.append(bytes(row))
            taken += ROW
        return ([b"".join(out)] if out else []), taken

    def pending(self) -> bool:
        """Whether a flush has something to do for this thread (or will have, soon)."""
        off = self.off
        return self.busy or off != self.taken or self.running(off) >= 0


def block_sigterm() -> None:
    """Keep SIGTERM off the calling thread (it is the main thread's to handle)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


class Recorder:
    """Buffers one worker process's events and sends them as :class:`WorkerBatch` datagrams.

    Thread-safe: a thread pool's workers share one Recorder (one process, one socket), each with
    its own ring, and the flusher thread sends while tasks record.
    """

    def __init__(self, address: str) -> None:
        self.pid = os.getpid()
        self.address = address
        self._sender = EventSender(address)
        self._final: tuple[int, int, int] | None = None  # set by close(final=True)
        slot = TaskSlot(address, RING_BYTES)  # readable after this process's death
        self.slot, self._slot_ring = slot.ids, slot.ring
        # Two locks: ``_send_lock`` orders datagrams and makes one reader of the rings at a time
        # (a send can block: the kernel queues few datagrams per socket); ``_lock`` guards the
        # texts, waits and hellos for the moment they are added or taken.
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._meters: list[ThreadMeter] = []
        self._texts: list[TaskText] = []
        self._text_bytes = 0
        self._waits: list[WaitSpan] = []
        self._hellos: list[WorkerHello] = []
        self._seq = 0
        self.last_flush_ns = time.monotonic_ns()
        self._pending = threading.Event()
        self._armed = False  # the flusher is watching (cheaper to test than Event.is_set)
        self._closed = False
        self._flusher = threading.Thread(target=self._flush_loop, name="procviz-flusher", daemon=True)
        self._flusher.start()

    # ---- recording --------------------------------------------------------------------------------

    def adopt(self, meter: ThreadMeter) -> None:
        """Record the tasks of ``meter``'s thread (the caller's) here."""
        if threading.current_thread() is threading.main_thread():  # a worker process's task thread
            meter.start_over(self, self.slot, self._slot_ring)
        else:
            meter.start_over(self, private_slot())
        with self._lock:
            self._meters.append(meter)

    def add_text(self, text: TaskText) -> None:
        """Buffer a task's text (after its row: a text never travels before its task's end)."""
        with self._lock:
            self._texts.append(text)
            self._text_bytes += len(text.message) + len(text.traceback) + len(text.type_name) + 64
            full = self._text_bytes >= MAX_TEXT_BYTES
        if full:  # texts are the only large part of a batch: keep every datagram far below the limit
            self.flush()

    def arm(self) -> None:
        """Have the flusher watch (it sends what is buffered within FLUSH_S, and goes on every
        FLUSH_S while a thread is inside a chunk)."""
        self._armed = True
        self._pending.set()

    def wait_span(self, span: WaitSpan) -> None:
        """Buffer a span spent blocked in an instrumented primitive."""
        with self._lock:
            self._waits.append(span)
        self.arm()

    def hello(self, hello: WorkerHello) -> None:
        """Announce a worker (process or thread) and send it at once."""
        with self._lock:
            self._hellos.append(hello)
        self.flush()

    # ---- sending ----------------------------------------------------------------------------------

    def flush(self, goodbye: bool = False, timeout_s: float = -1, wait: bool = True) -> bool:
        """Send everything buffered; False if the locks were not had within ``timeout_s`` (or at
        once, without ``wait``).

        The timeout is for the SIGTERM handler: it runs on the main thread, possibly while that
        thread is inside a send holding a lock, where waiting would deadlock.
        """
        got = self._send_lock.acquire(timeout=timeout_s) if wait else self._send_lock.acquire(False)
        if not got:
            return False
        try:
            batches = self._take(goodbye, timeout_s)
            if batches is None:
                return False
            for batch in batches:
                self._sender.send(batch)
            self.last_flush_ns = time.monotonic_ns()
        finally:
            self._send_lock.release()
        return True

    def _take(self, goodbye: bool, timeout_s: float) -> list[WorkerBatch] | None:
        """Everything buffered as numbered batches: hellos alone first, then each thread's rows,
        the texts and waits last (taken before the rows, so a text never precedes its task's row)."""
        if not self._lock.acquire(timeout=timeout_s):
            return None
        try:
            hellos, self._hellos = self._hellos, []
            texts, self._texts = tuple(self._texts), []
            waits, self._waits = tuple(self._waits), []
            self._text_bytes = 0
            meters = tuple(self._meters)
        finally:
            self._lock.release()
        pieces = [rows for meter in meters for rows in meter.take()]
        if not (pieces or texts or waits or hellos or goodbye):
            return []
        out = [WorkerBatch(pid=self.pid, seq=self._next_seq(), rows=b"", hello=hello) for hello in hellos]
        last = pieces.pop() if pieces else b""
        out += [WorkerBatch(pid=self.pid, seq=self._next_seq(), rows=rows) for rows in pieces]
        if last or texts or waits or goodbye or not hellos:
            out.append(WorkerBatch(pid=self.pid, seq=self._next_seq(), rows=last, texts=texts, waits=waits,
                                   goodbye=goodbye, final=self._final if goodbye else None))
        return out

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _busy(self) -> bool:
        """Whether a thread is inside a chunk or a task, or something waits to be sent."""
        return bool(self._texts or self._waits or any(meter.pending() for meter in tuple(self._meters)))

    def _long_task_unannounced(self, now_ns: int) -> bool:
        """Whether a thread is in a task begun FLUSH_S / 2 ago or more whose START is unsent
        (a racy read, as a hint: a flush reads the task again, consistently)."""
        return any(0 <= meter.running(meter.off) != meter.announced and now_ns - meter.ids[1] >= FLUSH_NS // 2
                   for meter in tuple(self._meters))

    def _flush_loop(self) -> None:
        block_sigterm()  # for the main thread, where its handler runs (see instrument._forward_sigterm)
        while not self._closed:
            self._pending.wait()
            if self._closed:
                return
            time.sleep(FLUSH_S)  # let a batch gather
            now = time.monotonic_ns()
            if now - self.last_flush_ns >= FLUSH_NS + FLUSH_NS // 2 or self._long_task_unannounced(now):
                self.flush()
            # else: a recording thread sent lately (it sends between its tasks once FLUSH_S passed;
            # the half period more leaves it the time to): a send from here would cost a datagram
            # and two GIL hand-overs more.
            if not self._busy():
                # Idle: wait to be armed again. A chunk beginning now either sees _armed False and
                # arms, or set its meter busy before the check below, which then keeps watching.
                self._armed = False
                self._pending.clear()
                if self._busy():
                    self.arm()

    def close(self, final: bool = False) -> None:
        """Send what is left with a goodbye; the recorder is unusable afterwards. ``final``: this is
        a worker process ending on its main thread, and the goodbye carries that thread's counters
        (see WorkerBatch.final)."""
        if self._closed:
            return
        self._final = _final_counters() if final else None
        self.flush(goodbye=True)
        self._closed = True
        self._pending.set()
        # The socket is closed now, not when the recorder is collected: the flusher thread holds it
        # until it has seen the close, and a recorder still held when the engine's collection
        # after a run came kept its socket open until the next one (test_faults' descriptor count).
        with self._send_lock:  # not in the middle of a send of the flusher's (it then fails quietly)
            self._sender.close()


def _final_counters() -> tuple[int, int, int] | None:
    """This thread's (monotonic ns, on-CPU ns, run-queue wait ns) now, or None without schedstat."""
    reader = SchedstatReader()
    try:
        if not reader.available:
            return None
        time.thread_time_ns()  # brings the kernel's count of this thread's on-CPU time up to date
        cpu, wait = reader.read()
        return time.monotonic_ns(), cpu, wait
    except (OSError, ValueError, IndexError):
        return None
    finally:
        reader.close()
