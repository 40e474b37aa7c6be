"""The engine's end of a worker's event socket, in a test's own process (test_worker_*.py).

A Recorder of this process (``instrument.connect_threads``) sends to a :class:`Sink`, which keeps
every datagram unpickled, in order; :func:`connected_sink` is what a test module's ``sink``
fixture yields from.
"""

from __future__ import annotations

import pickle
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from procviz.engine.events import WIRE_EVENT_DTYPE, WorkerBatch
from procviz.engine.worker import instrument


class Sink:
    """The engine's end of the socket: every datagram received, unpickled, in order."""

    def __init__(self, folder: Path) -> None:
        self.address = str(folder / "events.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.address)
        self.batches: list[WorkerBatch] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            batch = pickle.loads(data)
            self.batches.append(batch)
            if batch.goodbye:
                return

    def close(self) -> list[WorkerBatch]:
        """Every batch, once the goodbye came (the recorder was closed) or 30 s passed."""
        self._thread.join(30)
        self.sock.close()
        return self.batches


def connected_sink(folder: Path) -> Iterator[Sink]:
    """A Recorder of this process connected to a fresh sink in ``folder``; closed (goodbye sent)
    when the generator is closed (a fixture's end)."""
    s = Sink(folder)
    instrument.connect_threads(s.address)
    try:
        yield s
    finally:
        instrument.disconnect_threads()
        s.close()


def wire_rows(batches: list[WorkerBatch]) -> np.ndarray:
    """The rows of ``batches``, in order, as the engine reads them."""
    return np.frombuffer(b"".join(b.rows for b in batches), dtype=WIRE_EVENT_DTYPE)
