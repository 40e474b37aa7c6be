"""The file tests' synthetic-timeline builder (:func:`synthetic.build_timeline`) covers what it claims."""

from __future__ import annotations

from synthetic import build_timeline

from procviz.engine.events import RunPhase, TaskState

# ---- the builder itself ---------------------------------------------------------------------------


def test_builder_covers_every_task_state():
    tl = build_timeline()
    counts = tl.state_counts()
    for state in TaskState:
        assert counts[state] > 0, state


def test_builder_has_a_jitter_overlap_and_unmeasured_ready():
    tl = build_timeline(k=3)
    first, second = 0, 3  # both on lane 0
    assert tl.lane[first] == tl.lane[second] == 0
    assert tl.start_ns[second] < tl.end_ns[first]
    assert (tl.ready_ns[tl.state == TaskState.DONE] == -1).any()


def test_builder_lanes_and_side_tables():
    tl = build_timeline(k=4)
    assert [lane.kind for lane in tl.lanes] == ["process"] * 4 + ["parent"]
    assert all(lane.exit_ns > 0 for lane in tl.lanes[:4])
    assert tl.lanes[3].exit_code == -9
    assert len(tl.intervals) and len(tl.resources) and len(tl.spans)
    assert tl.status is not None and tl.status.phase == RunPhase.FINISHED
