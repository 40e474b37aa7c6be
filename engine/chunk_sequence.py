"""The lazy sequence of a run's Pool chunks that both the engine's plan and the head start hand to
``Pool.map`` (standard library only).

``Pool.map`` takes a sequence with a length (else it copies the iterable into a list); the chunks
are made one at a time as the Pool's task thread asks for them. Subclasses say how many there are
(``count`` tasks, ``chunksize`` a chunk) and make chunk ``k`` (:meth:`ChunkSequence.chunk`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from procviz.engine.worker.instrument import ChunkItem


class ChunkSequence(Sequence[ChunkItem]):
    """Chunks of ``chunksize`` tasks out of ``count``, made on demand by :meth:`chunk`."""

    def __init__(self, count: int, chunksize: int) -> None:
        self._count = count
        self._chunksize = chunksize

    def chunk(self, k: int) -> ChunkItem:
        """Chunk ``k`` (0 <= k < len(self)): the tasks ``k * chunksize`` up to the next chunk's."""
        raise NotImplementedError

    def __len__(self) -> int:
        return -(-self._count // self._chunksize)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.chunk(i) for i in range(len(self))[k]]
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(k)
        return self.chunk(k)

    def __iter__(self) -> Iterator[ChunkItem]:
        return map(self.chunk, range(len(self)))
