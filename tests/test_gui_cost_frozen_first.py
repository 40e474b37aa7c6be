"""A run's first frozen copy (the live numbers' copy of the shown Timeline, taken on the GUI thread
beside the booting workers) makes its task columns once: the copies. It used to size a fresh
Timeline first (five columns filled with -1, one with NaN, a range of ids: ~50 bytes a task, 2 ms
at 100k tasks, 20 ms at 1M) and then replace every one of them. Counted, not timed."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synth_batches

from procviz.engine.timeline import Timeline
from procviz.gui.numbers_worker import MUTABLE_COLUMNS, FrozenCopy

N = 50_000


def live_timeline() -> Timeline:
    batches = synth_batches(n_tasks=N, n_lanes=2, seed=3, batches=4)
    tl = Timeline()
    for batch in batches[:2]:
        tl.apply(batch)
    return tl


def test_the_first_take_fills_no_column_it_then_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    tl = live_timeline()
    made: list[int] = []
    for name in ("full", "zeros", "arange"):
        real = getattr(np, name)

        def counting(*args, _real=real, **kwargs):  # noqa: ANN002, ANN003
            out = _real(*args, **kwargs)
            if np.size(out) >= N:
                made.append(np.size(out))
            return out

        monkeypatch.setattr(np, name, counting)
    frozen = FrozenCopy().take(tl)
    monkeypatch.undo()
    assert made == [] or made == [N]  # (at most the one-number submissions as a column, to copy)
    for name in (*MUTABLE_COLUMNS, "chunk", "cost_ms"):
        np.testing.assert_array_equal(getattr(frozen, name), getattr(tl, name), err_msg=name)
    for name in MUTABLE_COLUMNS:  # copies, not the shown columns
        assert not np.shares_memory(getattr(frozen, name), getattr(tl, name)), name
    assert frozen.run is tl.run and frozen.n_tasks == N
    assert (frozen.block_stamp > 0).all()  # every block noted as written: the sums are made afresh


def test_begin_takes_the_given_columns_and_makes_the_others() -> None:
    tl = live_timeline()
    state = tl.state.copy()
    fresh = Timeline()
    fresh.begin(tl.run, given={"state": state})
    assert fresh.state is state
    assert (fresh.start_ns == -1).all() and len(fresh.start_ns) == N
    assert fresh.submitted_at(0) == -1
