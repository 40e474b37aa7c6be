"""Which task ids a Timeline wrote since a reader last looked, from its block stamps.

Every write of a task column notes the block of ``TASK_BLOCK`` ids it touched
(:attr:`Timeline.block_stamp`, a stamp that only grows). A reader that keeps the stamps it saw
compares only the blocks written since: a live run writes a few blocks at its front between two
looks, so a look costs those blocks, not a pass over every task (at a million tasks, a pass of
each column the chart's fold compared took milliseconds, ten times a second).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from procviz.engine.timeline import TASK_BLOCK, TASK_SHIFT, Timeline

UNSEEN = -1  # a stamp no block has (they start at 0): the block is compared at the next look


def written_since(stamps: np.ndarray, tl: Timeline) -> list[tuple[int, int]]:
    """Task id ranges [lo, hi) of the blocks ``tl`` wrote since its block stamps were ``stamps``
    (neighbouring blocks joined)."""
    blocks = np.flatnonzero(tl.block_stamp != stamps)
    if not len(blocks):
        return []
    cuts = np.flatnonzero(np.diff(blocks) > 1) + 1
    return [(int(run[0]) * TASK_BLOCK, min((int(run[-1]) + 1) * TASK_BLOCK, tl.n_tasks))
            for run in np.split(blocks, cuts)]


class WrittenBlocks:
    """One reader's stamps of one Timeline: :meth:`ranges` to compare, then :meth:`seen`.

    Every range is given while the reader has not looked at these columns yet (another run or
    file: the stamps are another array), and while the Timeline never noted a write (a Timeline
    filled by hand, whose stamps say nothing).
    """

    def __init__(self) -> None:
        self._source: np.ndarray | None = None  # the Timeline's stamps array these were taken from
        self._stamps = np.zeros(0, np.int64)

    def ranges(self, tl: Timeline) -> list[tuple[int, int]]:
        """The task id ranges [lo, hi) that may have changed since :meth:`seen` was last called."""
        if self._source is not tl.block_stamp or not tl.stamped:
            return [(0, tl.n_tasks)] if tl.n_tasks else []
        return written_since(self._stamps, tl)

    def seen(self, tl: Timeline, below: int | None = None) -> None:
        """Note what ``tl`` holds now as seen; ``below``: only the task ids under this one (a look
        that took part of the changes: the blocks from the one holding ``below`` on are compared
        again next time)."""
        stamps = tl.block_stamp.copy()
        if below is not None:
            first = below >> TASK_SHIFT
            stamps[first:] = self._stamps[first:] if self._source is tl.block_stamp else UNSEEN
        self._source, self._stamps = tl.block_stamp, stamps

    def forget(self) -> None:
        """Compare every task at the next look."""
        self._source = None


def changed_ids(ranges: list[tuple[int, int]], differs: Callable[[slice], np.ndarray]) -> np.ndarray:
    """The ids in ``ranges`` where ``differs(slice)`` (a boolean array of the slice's tasks) holds, in order."""
    parts = [np.flatnonzero(differs(slice(lo, hi))) + lo for lo, hi in ranges]
    if not parts:
        return np.zeros(0, np.int64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
