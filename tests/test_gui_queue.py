"""The ready-queue plot's data: incremental queue events, per-pixel-column envelope (no Qt needed)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synth_timeline

from procviz.engine.events import TaskState
from procviz.gui.gantt.envelope import ColumnEnvelope
from procviz.gui.gantt.queue_plot import queue_steps
from procviz.gui.gantt.queue_steps import QueueSteps


def brute_columns(x: np.ndarray, y: np.ndarray, end_x: float, vx0: float, vx1: float, px: float, carry: bool):
    """Maximum of the step function (or of the marks) over each column, by brute force."""
    ncol = int(np.ceil((vx1 - vx0) / px))
    out = np.zeros(ncol)
    for c in range(ncol):
        a, b = vx0 + c * px, vx0 + (c + 1) * px
        inside = y[(x >= a) & (x < b)]
        values = list(inside)
        if carry:
            before = np.flatnonzero(x <= a)
            if len(before) and a < end_x:
                values.append(y[before[-1]])
        out[c] = max(values, default=0.0)
    return out


def random_steps(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(rng.uniform(0, 10, n))
    return x, rng.integers(0, 50, n).astype(np.float64)


@pytest.mark.parametrize("carry", [True, False])
@pytest.mark.parametrize("points", [30, 5000])  # few points: binned directly; many: from the level cache
def test_envelope_is_each_columns_maximum_within_a_pixel(carry: bool, points: int) -> None:
    rng = np.random.default_rng(points)
    x, y = random_steps(rng, points)
    env = ColumnEnvelope(carry)
    env.set(x, y, 0, 10.0)
    for vx0, vx1, ncol in ((0.0, 10.0, 200), (2.5, 3.5, 150), (-1.0, 12.0, 97)):
        px = (vx1 - vx0) / ncol
        left, got = env.columns(vx0, vx1, px)
        assert len(got) == ncol and np.allclose(left, vx0 + np.arange(ncol) * px)
        want = brute_columns(x, y, 10.0, vx0, vx1, px, carry)
        # Binning on the level grid (bins no wider than a pixel) moves a point at most into the
        # column before: a column shows its own maximum or its right neighbour's, and no maximum
        # is lost.
        assert np.all(got <= np.maximum(want, np.r_[want[1:], 0]))
        assert np.all(want <= np.maximum(got, np.r_[0, got[:-1]]))
        assert got.max() == want.max()


def test_envelope_after_a_change_at_the_tail_equals_one_built_afresh() -> None:
    rng = np.random.default_rng(1)
    x, y = random_steps(rng, 20_000)
    live = ColumnEnvelope(True)
    live.set(x[:15_000], y[:15_000], 0, 7.0)
    live.columns(0.0, 10.0, 10.0 / 300)  # builds the level cache
    y2 = y.copy()
    y2[14_990:15_000] = 99.0  # the tail of the old points changes too
    live.set(x, y2, 14_990, 10.0)
    fresh = ColumnEnvelope(True)
    fresh.set(x, y2, 0, 10.0)
    np.testing.assert_array_equal(live.columns(0.0, 10.0, 10.0 / 300)[1], fresh.columns(0.0, 10.0, 10.0 / 300)[1])


def test_queue_events_folded_in_as_tasks_start_equal_those_counted_at_the_end() -> None:
    tl = synth_timeline(n_tasks=3000, n_lanes=3, unstarted_cancelled=(2999,), queued=(2998,))
    final = {name: getattr(tl, name).copy() for name in ("start_ns", "end_ns", "state")}
    order = np.argsort(np.where(final["start_ns"] >= 0, final["start_ns"], np.iinfo(np.int64).max))
    tl.start_ns[:], tl.end_ns[:], tl.state[:] = -1, -1, TaskState.QUEUED
    steps = QueueSteps()
    steps.update(tl)
    assert steps.peak == 3000  # all submitted, none started
    buffer = steps._kb
    for part in np.array_split(order, 17):
        for name, column in final.items():
            getattr(tl, name)[part] = column[part]
        tl.touch_tasks(part)  # (as the Timeline's own writes do: the update reads the stamps)
        steps.update(tl)
        assert steps._kb is buffer  # room for every task's join and leave from the start: never copied to grow
    t, n = queue_steps(tl)  # from scratch
    x, y = steps.x, steps.y
    last = np.r_[x[1:] != x[:-1], True]
    np.testing.assert_array_equal(x[last], t[:-1])
    np.testing.assert_array_equal(y[last], n[:-1])
    assert n[-1] == 1  # 2998 still queued; 2999 left when it was cancelled
    assert not steps.update(tl)  # nothing new: nothing added


def test_queue_events_folded_in_any_order_equal_those_counted_at_the_end() -> None:
    # Submissions and starts in random parts: events land after the known ones (appended in place)
    # and among them (the columns rebuilt from there); the peak follows both ways.
    tl = synth_timeline(n_tasks=4000, n_lanes=3, seed=3)
    final = {name: getattr(tl, name).copy() for name in ("submitted_ns", "start_ns", "end_ns", "state")}
    tl.submitted_ns[:], tl.start_ns[:], tl.end_ns[:], tl.state[:] = -1, -1, -1, TaskState.PENDING
    steps = QueueSteps()
    rng = np.random.default_rng(5)
    time_order = np.argsort(final["submitted_ns"], kind="stable")
    for k, part in enumerate(np.array_split(time_order, 9) + np.array_split(rng.permutation(4000), 7)):
        if k < 9:  # submitted in time order: each part's arrivals come after the known ones
            tl.submitted_ns[part], tl.state[part] = final["submitted_ns"][part], TaskState.QUEUED
        else:  # then started and ended in random parts: leaves land among the known events
            for name in ("start_ns", "end_ns", "state"):
                getattr(tl, name)[part] = final[name][part]
        tl.touch_tasks(part)
        steps.update(tl)
        t, n = queue_steps(tl)
        x, y = steps.x, steps.y
        last = np.r_[x[1:] != x[:-1], True]
        np.testing.assert_array_equal(x[last], t[:-1])
        np.testing.assert_array_equal(y[last], n[:-1])
        assert steps.peak == n.max()
    np.testing.assert_array_equal(steps.arrivals, np.unique((final["submitted_ns"] - tl.t0_ns) * 1e-9))


def test_a_big_change_folded_in_parts_equals_it_folded_at_once() -> None:
    tl = synth_timeline(n_tasks=5000, n_lanes=3, seed=8)
    whole = QueueSteps()
    whole.update(tl)
    parts = QueueSteps()
    calls = 0
    while True:
        parts.update(tl, limit=700)
        calls += 1
        if not parts.more:
            break
    assert calls == 8  # 5000 changed tasks, 700 at a time
    np.testing.assert_array_equal(parts.x, whole.x)
    np.testing.assert_array_equal(parts.y, whole.y)
    np.testing.assert_array_equal(parts.arrivals, whole.arrivals)
    assert parts.peak == whole.peak and not parts.update(tl, limit=700)
