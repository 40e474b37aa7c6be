"""Metrics refreshed on a growing timeline equal the metrics computed from scratch, every time.

compute_metrics keeps its per-task sums per block of tasks and sums again only what was written
since its last call (engine/task_sums.py); the serial-time estimate is kept while the state
intervals that arrive later cannot change it. Random runs are fed in random batches (state
intervals and wait spans arriving late, as the sampler's pending windows do; thread lanes of one
process, whose GIL turns the estimate subtracts; lanes appearing mid-run), and after every batch
the kept figures must equal a fresh computation's exactly.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from synthetic import build_timeline, finished_run, synth_batches

from procviz.engine.events import INTERVAL_DTYPE, SPAN_DTYPE, EngineBatch, LaneKind, TaskState
from procviz.engine.metrics import Metrics, compute_metrics, sum_ended_blocks
from procviz.engine.task_sums import BlockSums, finished_block_sums, general_block_sums
from procviz.engine.timeline import TASK_BLOCK, Timeline


def _scratch(tl: Timeline) -> Metrics:
    """The metrics with nothing kept from earlier calls."""
    kept = dict(tl.derived)
    tl.derived.clear()
    try:
        return compute_metrics(tl)
    finally:
        tl.derived.clear()
        tl.derived.update(kept)


def _measured(iv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """State intervals with on-CPU and ready time (the sampler's split), so that every part of the
    serial-time estimate (others' run-queue time, GIL turns) has something to count."""
    iv = iv.copy()
    length = iv["end_ns"] - iv["start_ns"]
    iv["cpu_ns"] = (length * rng.uniform(0.2, 0.8, len(iv))).astype(np.int64)
    iv["ready_ns"] = (length * rng.uniform(0.0, 0.2, len(iv))).astype(np.int64)
    return iv


def _late(batches: list[EngineBatch], rng: np.random.Generator) -> list[EngineBatch]:
    """The same batches with some state intervals and spans handed on one or two batches late."""
    batches = [replace(b, intervals=_measured(b.intervals, rng)) for b in batches]
    out: list[EngineBatch] = []
    carried_iv, carried_sp = [np.zeros(0, INTERVAL_DTYPE)] * 2, [np.zeros(0, SPAN_DTYPE)] * 2
    for k, b in enumerate(batches):
        # the last batch brings everything still held back
        delay_iv = np.zeros(len(b.intervals), int) if k == len(batches) - 1 else rng.integers(0, 3, len(b.intervals))
        delay_sp = np.zeros(len(b.spans), int) if k == len(batches) - 1 else rng.integers(0, 3, len(b.spans))
        iv = np.concatenate([carried_iv[0], b.intervals[delay_iv == 0]])
        sp = np.concatenate([carried_sp[0], b.spans[delay_sp == 0]])
        if k == len(batches) - 1:
            iv, sp = np.concatenate([iv, carried_iv[1]]), np.concatenate([sp, carried_sp[1]])
        carried_iv = [np.concatenate([carried_iv[1], b.intervals[delay_iv == 1]]), b.intervals[delay_iv == 2]]
        carried_sp = [np.concatenate([carried_sp[1], b.spans[delay_sp == 1]]), b.spans[delay_sp == 2]]
        out.append(replace(b, intervals=iv, spans=sp))
    return out


def _threads(batches: list[EngineBatch]) -> list[EngineBatch]:
    """The run's lanes as threads of one process (the GIL-turn part of the estimate)."""
    first = batches[0]
    lanes = tuple(replace(info, pid=4000, kind=LaneKind.THREAD) for info in first.lanes)
    return [replace(first, lanes=lanes), *batches[1:]]


@pytest.mark.parametrize("seed", range(8))
def test_refreshed_metrics_equal_a_fresh_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3 * TASK_BLOCK))  # several blocks of tasks
    batches = synth_batches(
        n_tasks=n, n_lanes=12 if seed == 5 else int(rng.integers(1, 5)), seed=seed,  # 12: more lanes than masks
        chunksize=int(rng.integers(1, 50)),
        mean_ms=float(rng.choice([0.05, 2.0])), batches=int(rng.integers(2, 12)),
        failed=(1, 3), cancelled=(5,), unstarted_cancelled=(7,), queued=(9,), running=int(rng.integers(0, 3)),
        spans=int(rng.integers(0, 30)), sample_ms=float(rng.choice([1.0, 10.0])),
    )
    batches = _late(batches, rng)
    if seed % 2:
        batches = _threads(batches)
    tl = Timeline()
    for b in batches:
        tl.apply(b)
        assert compute_metrics(tl) == _scratch(tl)
        assert compute_metrics(tl) == _scratch(tl)  # a second call with nothing new: all kept
    m = compute_metrics(tl)
    assert m.serial_estimate_ns < m.busy_ns  # the estimate took waits out: the bins counted


@pytest.mark.parametrize("seed", range(6))
def test_blocks_summed_ahead_during_a_run_give_the_fresh_figures(seed: int) -> None:
    """The engine sums a big run's ended blocks while it goes on (sum_ended_blocks, with serial-time
    estimates only where the intervals to come cannot reach): the figures at any later point, and
    at the end, equal a fresh computation's."""
    rng = np.random.default_rng(100 + seed)
    batches = synth_batches(
        n_tasks=int(rng.integers(2 * TASK_BLOCK, 4 * TASK_BLOCK)), n_lanes=int(rng.integers(1, 5)), seed=seed,
        chunksize=int(rng.integers(1, 50)), mean_ms=float(rng.choice([0.05, 2.0])), batches=int(rng.integers(4, 12)),
        failed=(1, 3), cancelled=(5,), queued=(9,), spans=int(rng.integers(0, 30)),
        sample_ms=float(rng.choice([1.0, 10.0])),
    )
    batches = _late(batches, rng)
    if seed % 2:
        batches = _threads(batches)
    tl = Timeline()
    summed_ahead = 0
    for k, b in enumerate(batches):
        tl.apply(b)
        sum_ended_blocks(tl)
        summed_ahead += sum(1 for blk in tl.derived["task_sums"].blocks if blk is not None and blk.own_work is not None)
        if k % 2:
            assert compute_metrics(tl) == _scratch(tl)
    assert compute_metrics(tl) == _scratch(tl)
    assert summed_ahead  # the test ran what it tests: some estimates were made ahead


def test_a_lane_opened_mid_run_and_direct_writes_are_seen() -> None:
    tl = finished_run(2 * TASK_BLOCK + 7, lanes=3)
    before = compute_metrics(tl)
    lanes = list(tl.lanes)
    tl.apply(EngineBatch(lanes=(replace(lanes[0], index=len(lanes), pid=7777),)))
    assert compute_metrics(tl) == _scratch(tl) and len(compute_metrics(tl).lanes) == len(lanes) + 1
    tl.state[3] = TaskState.CANCELLED  # a write outside the Timeline's methods, then its note
    tl.touch_tasks(np.array([3]))
    after = compute_metrics(tl)
    assert after == _scratch(tl) and after.cancelled == before.cancelled + 1


def test_a_new_run_or_a_loaded_file_starts_over() -> None:
    tl = build_timeline(seed=1)
    compute_metrics(tl)
    other = build_timeline(seed=2)
    tl.load_columns(other.run, other.lanes, {name: getattr(other, name) for name in Timeline.TASK_COLUMNS},
                    other.texts, other.intervals.data, other.resources.data, other.spans.data,
                    other.span_labels, other.status, other.now_ns, other.machine.data)
    assert compute_metrics(tl) == compute_metrics(other)
    run = finished_run(TASK_BLOCK + 1)
    tl.apply(EngineBatch(run=run.run))
    assert compute_metrics(tl) == _scratch(tl) and compute_metrics(tl).done == 0


def test_a_late_interval_in_the_bin_of_a_kept_block_is_seen() -> None:
    """A block whose tasks ended just before a state interval that arrives later, in the same
    10 ms bin: the bin's split changes, so the block's kept estimate must be made again."""
    tl = finished_run(TASK_BLOCK + 10, lanes=2)
    t0, split = tl.run.t0_ns, int(tl.end_ns[:TASK_BLOCK].max()) + 1
    first = np.zeros(2, INTERVAL_DTYPE)
    first["lane"], first["start_ns"], first["end_ns"] = (0, 1), t0, split
    first["cpu_ns"], first["ready_ns"] = (split - t0) // 2, (split - t0) // 20
    tl.apply(EngineBatch(intervals=first))
    compute_metrics(tl)
    late = np.zeros(2, INTERVAL_DTYPE)
    late["lane"], late["start_ns"], late["end_ns"] = (0, 1), split, split + 30_000_000
    late["cpu_ns"], late["ready_ns"] = 3_000_000, 24_000_000
    tl.apply(EngineBatch(intervals=late))
    assert compute_metrics(tl) == _scratch(tl)


@pytest.mark.parametrize("schedstat", (True, False))
def test_the_finished_block_shortcut_sums_as_the_general_case(schedstat: bool) -> None:
    """A block whose tasks all ran and ended is summed by a shortcut; it must give what the
    general case gives (run-queue waits unmeasured for some or all tasks included)."""
    tl = finished_run(TASK_BLOCK + 100, lanes=3, schedstat=schedstat)
    tl.ready_ns[::7] = -1
    tl.touch_tasks()
    work = np.ones(tl.n_tasks, bool)
    work[5] = False
    for k in range(2):
        part = slice(k * TASK_BLOCK, (k + 1) * TASK_BLOCK)
        short, general = finished_block_sums(tl, part, work[part], 1), general_block_sums(tl, part, work[part], 1)
        for f in fields(BlockSums):
            a, b = getattr(short, f.name), getattr(general, f.name)
            assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, f.name


def test_start_up_counts_from_the_first_workers_creation_when_it_came_before_the_submission() -> None:
    """``procviz run`` creates a Pool's workers, then submits once numpy is in: their boot is still
    start-up (as when a Pool is created at submission). A lane created before the run's t0 or after
    its first task start changes nothing."""
    tl = finished_run(200)
    tl.run = replace(tl.run, t0_ns=tl.run.t0_ns - 100_000_000)  # the run began before its first submission
    before = compute_metrics(tl)
    first_submitted = int(tl.submitted_ns[tl.submitted_ns >= 0].min())
    early = first_submitted - 50_000_000
    assert early >= tl.run.t0_ns
    procs = [i for i, lane in enumerate(tl.lanes) if lane.kind == LaneKind.PROCESS]
    assert procs
    lanes = list(tl.lanes)
    lanes[procs[0]] = replace(lanes[procs[0]], created_ns=early)
    if len(procs) > 1:  # created before the run began: not this run's worker boot
        lanes[procs[1]] = replace(lanes[procs[1]], created_ns=tl.run.t0_ns - 1)
    tl.lanes = lanes
    after = compute_metrics(tl)
    assert after.startup_ns == before.startup_ns + (first_submitted - early)
    assert after.makespan_ns == before.makespan_ns + (first_submitted - early)
    assert after.work_ns == before.work_ns


def test_the_summary_says_task_times_are_sums_over_the_tasks() -> None:
    """A 1M-task run's queued time sums to days: the CLI's line must say it is a sum, and over how many."""
    tl = Timeline()
    for b in synth_batches(n_tasks=40, n_lanes=2, seed=3, batches=3):
        tl.apply(b)
    m = compute_metrics(tl)
    lines = m.summary_lines()
    at = lines.index(f"task time, summed over the {m.tasks} tasks:")
    assert lines[at + 1].startswith(f"  queued {m.queued_ns * 1e-9:.3f} s, on-CPU ")


def test_the_summary_says_slot_in_the_singular_for_one() -> None:
    tl = Timeline()
    for b in synth_batches(n_tasks=10, n_lanes=1, seed=1, batches=2):
        tl.apply(b)
    m = replace(compute_metrics(tl), slots=1)
    assert "of 1 worker slot;" in m.summary_lines()[2]
    assert "of 2 worker slots;" in replace(m, slots=2).summary_lines()[2]
