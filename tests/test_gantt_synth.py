"""The Gantt tests' synthetic-timeline builder (tests/synthetic.py) is faithful."""

from __future__ import annotations

import numpy as np
from synthetic import synth_timeline

from procviz.engine.events import TaskState, WorkerState

# ---- the builder itself must be right for the other tests to mean anything ---------------------


def test_synth_tasks_never_overlap_on_a_lane_and_all_start():
    tl = synth_timeline(n_tasks=500, n_lanes=3, chunksize=4, batches=5)
    assert np.all(tl.start_ns >= 0)
    assert set(np.unique(tl.lane)) == {0, 1, 2}
    for k in range(3):
        mine = np.flatnonzero(tl.lane == k)
        mine = mine[np.argsort(tl.start_ns[mine])]
        assert np.all(tl.start_ns[mine][1:] > tl.end_ns[mine][:-1])


def test_synth_states_running_and_cancelled():
    tl = synth_timeline(n_tasks=100, n_lanes=2, failed=(5,), cancelled=(7,), unstarted_cancelled=(9,),
                        running=2, batches=3)
    counts = tl.state_counts()
    assert counts[TaskState.RUNNING] == 2
    assert counts[TaskState.FAILED] == 1
    assert counts[TaskState.CANCELLED] == 2
    assert tl.start_ns[9] == -1
    assert tl.texts[5].kind == "error"
    assert len(tl.intervals) > 0
    assert set(np.unique(tl.intervals.data["state"])) >= {WorkerState.RUNNING, WorkerState.WAITING}
