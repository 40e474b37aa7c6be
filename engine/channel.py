"""The worker -> engine event channel: one Unix datagram socket, no lock shared between workers.

Why not a ``multiprocessing.Queue``: measured here, one message per event costs ~14 us of worker
CPU and saturates near 180k events/s; worse, a worker killed while writing holds the queue's
shared lock forever and no later event from *any* worker arrives. A datagram socket has neither
problem: each ``sendto`` is atomic (a datagram arrives whole or not at all), there is no lock
between senders, and a sender that dies cannot corrupt or block the others. Workers batch their
events (see :mod:`procviz.engine.worker.instrument`) so the per-event cost is a ``struct.pack_into``.

The receiving end (here) lives in the engine thread only; each sender
(:class:`procviz.engine.worker.channel.EventSender`) belongs to one worker process.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import shutil
import socket
import tempfile
import threading
import time

from procviz.engine.worker.channel import MAX_DATAGRAM
from procviz.engine.worker.wire import WorkerBatch  # not from events: procviz run binds this before numpy

_RCVBUF = 8 * 1024 * 1024
FLOOD_DATAGRAMS = 5  # half the default net.unix.max_dgram_qlen: datagrams come faster than passes
FLOOD_WAKE_S = 0.005  # in a flood, a look at the run's end (``wake``) at least this often


class EventReceiver:
    """The engine's end: binds a datagram socket in a private temp dir and receives batches."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="procviz-")
        self.address = os.path.join(self._dir, "events.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        except OSError:
            pass  # the kernel caps it at rmem_max; the default still works, just with less slack
        self._sock.bind(self.address)
        self._sock.setblocking(False)
        # poll, not select: select fails on descriptors >= 1024 in a long-lived GUI process.
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self.bad_datagrams = 0
        self._buf = bytearray(MAX_DATAGRAM)
        self._view = memoryview(self._buf)
        self._held: list[WorkerBatch] = []  # taken off the socket while the engine waited (see wait_for_events)
        self._flooded = False

    def wait(self, timeout_s: float) -> bool:
        """Block until a datagram is waiting or ``timeout_s`` passes; True if one is waiting."""
        return bool(self._poll.poll(max(math.ceil(timeout_s * 1000), 0)))  # (0.4 ms: 1, not a spin)

    def wait_for_events(self, tick_due_s: float, not_before_s: float, wake: threading.Event | None = None) -> bool:
        """Sleep until a datagram is waiting or the next sampling tick is due (both on
        ``time.monotonic()``), but not past the tick and not before ``not_before_s``: datagrams
        that arrive meanwhile are taken together in one pass, so a busy run costs the engine one
        pass per ``not_before`` spacing, an idle one a pass per tick. ``wake``, once set, ends the
        pause before ``not_before_s`` (the run's last result came back: its last events are what
        it waits for). True if a datagram waits.
        """
        now = time.monotonic()
        pause = min(not_before_s, tick_due_s) - now
        # A flood (the last take found FLOOD_DATAGRAMS or more waiting): the socket's queue holds
        # only net.unix.max_dgram_qlen datagrams (10 by default) and a worker whose send finds it
        # full blocks, tasks and all, until the engine's next pass. Workers of tiny tasks fill it
        # within ~10 ms and spent half of a 1M-task run blocked so (py-spy). Meanwhile each
        # datagram is taken off the socket as it comes (no pass: held for the next one).
        while pause > 0 and self._flooded and not (wake is not None and wake.is_set()):
            if self.wait(min(pause, FLOOD_WAKE_S)):
                self._held += self._receive(10_000)
            pause = min(not_before_s, tick_due_s) - time.monotonic()
        if self._held:
            return True
        now = time.monotonic()
        if pause > 0:
            if wake is None:
                time.sleep(pause)
            elif wake.wait(pause):
                return self.wait(0.0)  # a pass now: what came meanwhile, or a look at the run's end
            now = time.monotonic()
        return self.wait(max(tick_due_s - now, 0.0))

    def receive_all(self, limit: int = 10_000) -> list[WorkerBatch]:
        """Every batch waiting now (at most ``limit`` more than those held while the engine
        waited), without blocking."""
        held, self._held = self._held, []
        fresh = self._receive(limit)
        self._flooded = len(held) + len(fresh) >= FLOOD_DATAGRAMS
        return held + fresh if held else fresh

    def _receive(self, limit: int) -> list[WorkerBatch]:
        out: list[WorkerBatch] = []
        # Into one kept buffer: a datagram is ~100 KB, and unpickling copies out what it keeps.
        recv_into, buf, view = self._sock.recvmsg_into, [self._buf], self._view
        for _ in range(limit):
            try:
                size, _, flags, _ = recv_into(buf)
            except (BlockingIOError, InterruptedError):
                break
            if flags & socket.MSG_TRUNC:  # cut short: its batch is lost (the sequence gap says so)
                self.bad_datagrams += 1
                continue
            try:
                batch = pickle.loads(view[:size])  # noqa: S301 - from our own workers on a private socket
            except Exception:
                self.bad_datagrams += 1
                continue
            if isinstance(batch, WorkerBatch):
                out.append(batch)
            else:
                self.bad_datagrams += 1
        return out

    def close(self) -> None:
        """Close the socket and remove its directory."""
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)
