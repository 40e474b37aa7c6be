"""The worker -> engine event channel: one Unix datagram socket, no lock shared between workers.

Why not a ``multiprocessing.Queue``: measured here, one message per event costs ~14 us of worker
CPU and saturates near 180k events/s; worse, a worker killed while writing holds the queue's
shared lock forever and no later event from *any* worker arrives. A datagram socket has neither
problem: each ``sendto`` is atomic (a datagram arrives whole or not at all), there is no lock
between senders, and a sender that dies cannot corrupt or block the others. Workers batch their
events (see :mod:`procviz.engine.instrument`) so the per-event cost is a ``struct.pack_into``.

The receiving end lives in the engine thread only; each sender belongs to one worker process.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import socket
import tempfile

from procviz.engine.events import WorkerBatch

MAX_DATAGRAM = 256 * 1024  # senders stay far below this (instrument.MAX_TEXT_BYTES + 256 rows)
_RCVBUF = 8 * 1024 * 1024


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

    def wait(self, timeout_s: float) -> bool:
        """Block until a datagram is waiting or ``timeout_s`` passes; True if one is waiting."""
        return bool(self._poll.poll(max(int(timeout_s * 1000), 0)))

    def receive_all(self, limit: int = 10_000) -> list[WorkerBatch]:
        """Every batch waiting now (at most ``limit``), without blocking."""
        out: list[WorkerBatch] = []
        recvmsg = self._sock.recvmsg
        for _ in range(limit):
            try:
                data, _, flags, _ = recvmsg(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            if flags & socket.MSG_TRUNC:  # cut short: its batch is lost (the sequence gap says so)
                self.bad_datagrams += 1
                continue
            try:
                batch = pickle.loads(data)  # noqa: S301 - from our own workers on a private socket
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


class EventSender:
    """A worker's end: sends pickled :class:`WorkerBatch` datagrams to the engine's address."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024 * 1024)
        except OSError:
            pass
        self.failures = 0

    def send(self, batch: WorkerBatch) -> bool:
        """Send one batch; False (and counted) if the engine is gone or the datagram is refused."""
        try:
            self._sock.sendto(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL), self.address)
            return True
        except OSError:
            # The engine has stopped listening (run over) or the batch is too large: a worker must
            # never die because the visualizer cannot hear it.
            self.failures += 1
            return False

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()
