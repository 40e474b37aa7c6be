"""The chart's folds compare only the blocks of task ids the Timeline wrote since they last looked
(engine/written_blocks.py), and still fold in every change: a live run's folds, in random parts
and slices, end where a fold from scratch does. No Qt needed."""

from __future__ import annotations

import numpy as np
import pytest

from procviz.engine.events import RunInfo, TaskState
from procviz.engine.timeline import TASK_BLOCK, Timeline
from procviz.engine.written_blocks import WrittenBlocks
from procviz.gui.gantt.model import GanttModel
from procviz.gui.gantt.queue_steps import QueueSteps

T0 = 1_000_000_000_000
B = TASK_BLOCK


def begun(n: int) -> Timeline:
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=n, t0_ns=T0, config={}, host="test", cpu_count=2, schedstat=True))
    return tl


def start(tl: Timeline, ids: np.ndarray, lane: int = 0) -> None:
    tl.write_starts(ids, np.full(len(ids), lane, np.int32), T0 + 1000 + ids)


def test_a_reader_is_given_the_blocks_written_since_it_looked() -> None:
    tl = begun(4 * B + 10)
    seen = WrittenBlocks()
    assert seen.ranges(tl) == [(0, 4 * B + 10)]  # first look: every task
    seen.seen(tl)
    assert seen.ranges(tl) == [(0, 4 * B + 10)]  # nothing written yet: the stamps say nothing
    tl.mark_submitted(np.arange(tl.n_tasks), T0)
    seen.seen(tl)
    assert seen.ranges(tl) == []
    start(tl, np.array([2 * B + 5]))
    assert seen.ranges(tl) == [(2 * B, 3 * B)]
    start(tl, np.array([3, B + 1, 4 * B + 9]))
    assert seen.ranges(tl) == [(0, 3 * B), (4 * B, 4 * B + 10)]  # neighbouring blocks joined, the last cut
    seen.seen(tl, below=B + 1)  # a look that took the changes under B + 1 only
    assert seen.ranges(tl) == [(B, 3 * B), (4 * B, 4 * B + 10)]
    seen.seen(tl)
    assert seen.ranges(tl) == []
    tl.begin(tl.run)  # another run: other stamps
    assert seen.ranges(tl) == [(0, 4 * B + 10)]
    fresh = WrittenBlocks()
    fresh.seen(tl, below=B)  # a first look cut short: the rest is compared next time whatever was written
    assert fresh.ranges(tl) == [(0, 4 * B + 10)]  # (not stamped yet)
    tl.mark_submitted(np.arange(tl.n_tasks), T0)
    fresh.seen(tl, below=B)
    assert fresh.ranges(tl) == [(B, 4 * B + 10)]


def bars(model: GanttModel) -> list[tuple[np.ndarray, ...]]:
    return [(s.x0.copy(), s.x1.copy(), s.rank.copy(), s.key.copy()) for s in model.tasks]


def assert_same(model: GanttModel, steps: QueueSteps, tl: Timeline) -> None:
    whole, fresh = GanttModel(tl), QueueSteps()
    whole.sync()
    fresh.update(tl)
    for got, want in zip(bars(model), bars(whole), strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(steps.x, fresh.x)
    np.testing.assert_array_equal(steps.y, fresh.y)
    assert steps.peak == fresh.peak


@pytest.mark.parametrize("seed", range(4))
def test_a_live_runs_folds_in_parts_and_slices_end_where_a_fold_from_scratch_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2 * B + int(rng.integers(1, B))
    tl = begun(n)
    model, steps = GanttModel(tl), QueueSteps()
    model.sync()
    steps.update(tl)
    tl.mark_submitted(np.arange(n), T0)  # a map's submissions: every task at once
    # Two workers take chunks in id order, each from its own end of the ids' front, and report in
    # batches that reach back behind the other's (a worker flushes when it can).
    cuts = np.sort(rng.choice(np.arange(1, n), 12, replace=False))
    for part in np.split(np.arange(n), cuts):
        order = rng.permutation(len(part))
        lanes = rng.integers(0, 2, len(part)).astype(np.int32)
        tl.write_starts(part[order], lanes[order], T0 + 1000 + part[order] * 10)
        done = part[rng.random(len(part)) < 0.9]
        tl.write_ends(done, np.full(len(done), int(TaskState.DONE), np.uint8), T0 + 1005 + done * 10,
                      np.full(len(done), 3, np.int64), np.full(len(done), -1, np.int64))
        tl.now_ns = T0 + 1010 + int(part[-1]) * 10
        tl.version += 1
        limit = int(rng.integers(100, 3 * B)) if rng.random() < 0.7 else None
        model.sync(limit)
        while model.more:
            model.sync(limit)
        steps.update(tl, limit)
        while steps.more:
            steps.update(tl, limit)
        assert_same(model, steps, tl)
    rest = np.flatnonzero(tl.state < TaskState.DONE)  # the rest ends
    tl.write_ends(rest, np.full(len(rest), int(TaskState.DONE), np.uint8), T0 + 2000 + rest * 10,
                  np.zeros(len(rest), np.int64), np.full(len(rest), -1, np.int64))
    tl.version += 1
    model.sync(1000)
    while model.more:
        model.sync(1000)
    steps.update(tl, 1000)
    while steps.more:
        steps.update(tl, 1000)
    assert_same(model, steps, tl)
