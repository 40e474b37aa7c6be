"""A worker's end of the event channel: pickled batches sent as Unix datagrams to the engine.

See :mod:`procviz.engine.channel` for why a datagram socket and not a ``multiprocessing.Queue``.
"""

from __future__ import annotations

import pickle
import socket

from procviz.engine.worker.wire import WorkerBatch

MAX_DATAGRAM = 512 * 1024  # senders stay below this (recorder.MAX_TEXT_BYTES + FLUSH_ROWS rows: ~260 KiB)


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
