"""The queue plot's steps keep one row per instant (a count), not one row per task event: a run's
100k submissions at one instant are one row. What is drawn must be what the per-task events drew:
checked against a per-task reference on random runs (ties of submissions and of starts,
cancellations before a start, parts folded in any order and size). No Qt needed."""

from __future__ import annotations

import numpy as np
import pytest

from procviz.engine.events import RunInfo, TaskState
from procviz.engine.timeline import Timeline
from procviz.gui.gantt import envelope
from procviz.gui.gantt.envelope import ColumnEnvelope
from procviz.gui.gantt.queue_steps import QueueSteps

T0 = 1_000_000_000_000
COLUMNS = ("submitted_ns", "start_ns", "end_ns", "state")


def per_task_steps(tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """The queue as per-task events (the old way): every join and leave a row, in time order
    (arrivals first at an instant); y the count after an instant's last row, 0 before it."""
    sub = tl.submitted_ns
    joined = sub >= 0
    start, end = tl.start_ns, tl.end_ns
    cancelled = (start < 0) & (end >= 0) & (tl.state >= int(TaskState.DONE))
    leave = np.where(start >= 0, start, np.where(cancelled, end, -1))
    left = joined & (leave >= 0)
    keys = np.sort(np.concatenate((sub[joined] * 2, np.maximum(leave[left], sub[left]) * 2 + 1)))
    count = np.cumsum(np.where(keys % 2 == 0, 1, -1))
    t = keys >> 1
    last = np.r_[t[1:] != t[:-1], True]
    return (t - T0) * 1e-9, count * last


def random_run(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Final task columns of a random run: submissions at a few instants, starts with ties, some
    tasks cancelled before starting, some still queued or running."""
    ms = 1_000_000
    sub = T0 + rng.choice(rng.integers(0, 50 * ms, 4), n)  # a handful of submission instants
    start = sub + rng.choice(rng.integers(0, 200 * ms, max(n // 3, 1)), n)  # many shared starts
    end = start + rng.integers(0, 5 * ms, n)
    state = np.full(n, int(TaskState.DONE), np.uint8)
    cancelled = rng.random(n) < 0.1
    start[cancelled] = -1
    state[cancelled] = int(TaskState.CANCELLED)
    running = ~cancelled & (rng.random(n) < 0.05)
    end[running] = -1
    state[running] = int(TaskState.RUNNING)
    queued = ~cancelled & ~running & (rng.random(n) < 0.05)
    start[queued] = end[queued] = -1
    state[queued] = int(TaskState.QUEUED)
    return {"submitted_ns": sub, "start_ns": start, "end_ns": end, "state": state}


def empty_timeline(n: int) -> Timeline:
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=n, t0_ns=T0, config={}, host="test", cpu_count=2, schedstat=True))
    tl.submitted_ns = np.full(n, -1, np.int64)
    return tl


def assert_same_queue(steps: QueueSteps, tl: Timeline, monkeypatch: pytest.MonkeyPatch) -> None:
    want_x, want_y = per_task_steps(tl)
    x, y = steps.x, steps.y
    last = np.r_[x[1:] != x[:-1], True]
    keep = np.r_[want_x[1:] != want_x[:-1], True]
    np.testing.assert_array_equal(x[last], want_x[keep])  # the same step function
    np.testing.assert_array_equal(y[last], want_y[keep])
    assert steps.peak == (want_y.max() if len(want_y) else 0.0)
    # One row per instant and kind (arrivals, leaves): no two rows with the same key.
    kinds = np.r_[np.diff(steps._keys) > 0, True]  # noqa: SLF001
    assert kinds.all()
    # What is drawn: the item's per-column envelope of the rows equals that of the per-task events.
    end_x = float(max(want_x.max(), 0.0)) + 0.01 if len(want_x) else 1.0
    # (The envelope bins points directly or from its per-level cache by how many are in view: fewer
    # rows may take the direct path where more took the cache, each within a pixel of the truth
    # (test_gui_queue.py); along one path the two must be equal.)
    for direct in (0, 10**9):
        monkeypatch.setattr(envelope, "DIRECT_FACTOR", direct)
        rows, events = ColumnEnvelope(carry=True), ColumnEnvelope(carry=True)
        rows.set(x, y, 0, end_x)
        events.set(want_x, want_y.astype(np.float64), 0, end_x)
        for vx0, vx1, ncol in ((-0.01, end_x, 300), (0.0, end_x / 7, 211), (end_x / 3, end_x / 2, 50)):
            px = (vx1 - vx0) / ncol
            np.testing.assert_array_equal(rows.columns(vx0, vx1, px)[1], events.columns(vx0, vx1, px)[1])


@pytest.mark.parametrize("seed", range(6))
def test_steps_folded_in_random_parts_equal_the_per_task_events(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    final = random_run(rng, n)
    tl = empty_timeline(n)
    steps = QueueSteps()
    # Submitted first (in parts, some at once), then started/ended in random parts, each part
    # folded with a random limit (so a part may itself take several calls).
    submit_parts = np.array_split(rng.permutation(n), int(rng.integers(1, 4)))
    run_parts = np.array_split(rng.permutation(n), int(rng.integers(1, 12)))
    for k, part in enumerate(submit_parts + run_parts):
        if k < len(submit_parts):
            tl.submitted_ns[part] = final["submitted_ns"][part]
            tl.state[part] = int(TaskState.QUEUED)
        else:
            for name in ("start_ns", "end_ns", "state"):
                getattr(tl, name)[part] = final[name][part]
        limit = int(rng.integers(1, n + 1)) if rng.random() < 0.5 else None
        steps.update(tl, limit)
        while steps.more:
            steps.update(tl, limit)
        assert_same_queue(steps, tl, monkeypatch)
    whole = QueueSteps()
    whole.update(tl)
    np.testing.assert_array_equal(whole.x, steps.x)  # folded in parts or at once: the same rows
    np.testing.assert_array_equal(whole.y, steps.y)


def test_a_runs_submissions_at_one_instant_are_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 100_000
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=n, t0_ns=T0, config={}, host="test", cpu_count=2, schedstat=True))
    tl.mark_submitted(np.arange(n), T0 + 5_000_000)  # as a Pool's map: every task at once
    steps = QueueSteps()
    assert steps.update(tl)
    assert len(steps.x) == 1 and steps.y[0] == n and steps.peak == n
    np.testing.assert_array_equal(steps.arrivals, [0.005])
    tl.write_starts(np.arange(3), np.zeros(3, np.int32), T0 + np.array([9, 9, 12]) * 1_000_000)
    assert steps.update(tl)
    assert_same_queue(steps, tl, monkeypatch)
    assert len(steps.x) == 3  # the arrivals, the two starts at 9 ms (one row), the start at 12 ms
    np.testing.assert_array_equal(steps.y, [n, n - 2, n - 3])
