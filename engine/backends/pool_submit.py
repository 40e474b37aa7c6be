"""How a Pool run's chunks are handed to the Pool, and the early hand-over of a simple run.

Standard library only, like :mod:`procviz.engine.backends.pool_creation`: ``procviz run`` begins a
Pool run before it imports numpy and the engine (:mod:`procviz.engine.head_start`). For a run whose
tasks follow from its config alone (a built-in kind, one fixed duration, submitted in id order, a
mapping API; or a function workload whose tasks take no arguments) the chunks are known without
the engine's plan, so they are handed to the Pool as
soon as it exists, as a user's script calls ``pool.map`` right after ``Pool()``: the workers take
their first chunk the moment they are up, while the parent still imports (~100 ms). The run's
:class:`~procviz.engine.backends.pool.PoolBackend` then adopts that submission, after checking it
is the plan's, instead of submitting again.

Until the engine reads them, the workers' rows wait in the event socket, whose queue holds few
datagrams (``net.unix.max_dgram_qlen``, 10 here): a run of tiny tasks fills it within
milliseconds, and its workers then wait in their sends until the engine's first pass. Their strip
shows that wait (waiting), as it shows any pass the engine makes late: they would have waited for
their first chunk otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from procviz.engine.chunk_sequence import ChunkSequence
from procviz.engine.config import RunConfig, fixed_duration_ms, pool_chunksize
from procviz.engine.worker.instrument import ChunkItem, run_chunk
from procviz.engine.worker.workloads import BUILTIN_FUNCTIONS

CHUNK_APIS = ("map", "map_async", "starmap", "imap", "imap_unordered")  # a Pool task per chunk


def call_chunk_api(pool: Any, api: str, run_chunks: Any, chunks: Sequence[ChunkItem]) -> Any:
    """Hand ``chunks`` to ``pool`` through ``api``, one Pool task per chunk (chunksize 1); returns
    the AsyncResult (map, map_async, starmap) or the result iterator (imap, imap_unordered).

    The chunks are the ones the Pool would cut with the configured chunksize, so the workers take
    the same work in the same order, while a chunk travels as a few dozen bytes and runs in one
    call (``instrument.run_chunk``).
    """
    if api == "starmap":
        return pool.starmap_async(run_chunks, ((chunk,) for chunk in chunks), chunksize=1)
    if api in ("imap", "imap_unordered"):
        return (pool.imap_unordered if api == "imap_unordered" else pool.imap)(run_chunks, chunks, chunksize=1)
    return pool.map_async(run_chunks, chunks, chunksize=1)


@dataclass(frozen=True, slots=True)
class EarlyPlan:
    """The tasks of a run known from its config alone: ``count`` tasks in id order, each calling
    ``function`` with ``args``, cut into chunks of ``chunksize``; ``report``: each result's text
    is sent (a function workload's)."""

    function: str
    count: int
    chunksize: int
    args: tuple[Any, ...]
    report: bool = False

    def runner(self) -> partial[None]:
        """What the Pool maps over :meth:`chunks` (as ``TaskPlan.chunk_runner``)."""
        return partial(run_chunk, self.function, self.report)

    def chunks(self) -> EarlyChunks:
        """The chunks, made on demand."""
        return EarlyChunks(self)


class EarlyChunks(ChunkSequence):
    """An :class:`EarlyPlan`'s chunks: chunk ``k`` is ids ``k * chunksize`` up to the next, all
    sharing the plan's arguments (the items ``TaskPlan.chunk_items`` makes for such a run)."""

    def __init__(self, plan: EarlyPlan) -> None:
        super().__init__(plan.count, plan.chunksize)
        self._args = plan.args

    def chunk(self, k: int) -> ChunkItem:
        """Chunk ``k``: a range of ids and the arguments they share."""
        cs = self._chunksize
        return range(k * cs, min((k + 1) * cs, self._count)), self._args, None


def early_plan(config: RunConfig) -> EarlyPlan | None:
    """The run's tasks if its config alone says what they are, else None (the engine's plan
    decides: drawn durations, a shuffled or sorted order, a function's arguments per task, one
    call per task)."""
    w = config.workload
    if (config.backend != "pool" or config.scenario or config.order == "random" or config.api not in CHUNK_APIS
            or w.count < 1):
        return None
    chunksize = pool_chunksize(config, w.count)
    if w.kind == "function":
        return None if any(w.args) else EarlyPlan(w.function, w.count, chunksize, (), report=True)
    if w.kind not in BUILTIN_FUNCTIONS or w.distribution != "fixed":
        return None
    # Equal durations: shortest or longest first keep the id order (a stable sort), as fifo does.
    return EarlyPlan(BUILTIN_FUNCTIONS[w.kind], w.count, chunksize, (fixed_duration_ms(w),))


@dataclass(frozen=True, slots=True)
class EarlySubmission:
    """Chunks handed to a Pool before the engine existed: what the API returned, and when."""

    plan: EarlyPlan
    api: str
    handle: Any  # AsyncResult, or the iterator of imap / imap_unordered
    submitted_ns: int  # time.monotonic_ns() just before the call


def submit_early(pool: Any, api: str, plan: EarlyPlan) -> EarlySubmission:
    """Hand ``plan``'s chunks to ``pool`` now."""
    t_ns = time.monotonic_ns()
    return EarlySubmission(plan, api, call_chunk_api(pool, api, plan.runner(), plan.chunks()), t_ns)
