"""Lane states against an independent sampler: the same kernel, read by another process at 100 Hz.

Both samplers read the same kernel counters, so what is asserted holds however loaded the machine
is: the shares of each lane's life on a CPU, in the run queue and blocked agree within 3 points plus
what the independent sampler cannot know between its reads at the lane's ends (measured per lane);
every interval fits its length; every lane is tiled from ready to exit; an exit is stamped between
the last time the independent sampler saw the thread alive and 20 ms after it first saw it gone
(times how much slower than idle the machine is); time the independent sampler saw runnable and
off-CPU is drawn mostly as ready, not as waiting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import run_config
from fault_helpers import slowness

from procviz.engine.events import TaskState, WorkerState
from procviz.engine.runner import RunResult
from procviz.engine.worker.clock import SchedstatReader

pytestmark = pytest.mark.skipif(not SchedstatReader().available or not hasattr(os, "pidfd_open"),
                                reason="needs schedstat and pidfds (Linux)")

MS = 1_000_000
# Shares agree within this plus what the independent sampler cannot know at the lane's two ends
# (Independent.uncertainty_at). 3 points cover the kernel updating schedstat at ticks and
# context switches rather than continuously, which both samplers see. A lane drawn with another
# thread's counters, or with running and ready swapped (4 workers on one CPU: about 25 % running,
# 75 % ready), is off by tens of points and still fails.
SHARE_TOLERANCE = 0.03
# An exit is stamped by procviz's exit-watch thread when it wakes: on an idle machine within this
# of the kernel's report; other programs' load delays the wake-up, so the bound is multiplied by
# how much slower than idle this process's CPU is around the run (fault_helpers.slowness).
EXIT_LATE_NS = 20 * MS


class Independent:
    """The independent sampler's record: per thread, reads of (t, cpu, ready, state)."""

    def __init__(self, data: dict) -> None:
        self.series = {int(k): np.array([(r[0], r[1], r[2], r[3]) for r in v], np.int64)
                       for k, v in data["series"].items()}
        self.states = {int(k): [r[4] for r in v] for k, v in data["series"].items()}
        self.gone = {int(k): tuple(v) for k, v in data["gone"].items()}
        self.exit_late_ns = EXIT_LATE_NS  # how late an exit stamp may be (run_observed scales it)

    def counters_at(self, tid: int, t_ns: int) -> tuple[float, float]:
        """(cpu, ready) interpolated at ``t_ns`` (clamped to the first and last read)."""
        s = self.series[tid]
        mid = (s[:, 0] + s[:, 1]) / 2
        return float(np.interp(t_ns, mid, s[:, 2])), float(np.interp(t_ns, mid, s[:, 3]))

    def uncertainty_at(self, tid: int, t_ns: int) -> np.ndarray:
        """How far (cpu, ready) at ``t_ns`` may be from what :meth:`counters_at` says, in ns.

        The counters only grow, so between the last read that ended before ``t_ns`` and the first
        that began after it, the true values lie between the two reads, and so does the
        interpolation: the error is at most what each counter grew between those two reads. Past
        the last read a counter grows at most as fast as the wall clock. Load stretches the reads
        apart and so widens this; a quiet machine reads every 10 ms and keeps it to a few ms.
        """
        s = self.series[tid]
        # One read further out on each side: run-queue wait shows in schedstat only once the
        # thread is back on a CPU, and procviz's end stamps (a clock read and a schedstat read)
        # can be split by such a wait; the reads one further out have seen it accounted.
        before = int(np.searchsorted(s[:, 1], t_ns, side="right")) - 1 - 1  # last read ended <= t, one more
        after = int(np.searchsorted(s[:, 0], t_ns, side="left")) + 1  # first read begun >= t, one more
        low = s[before, 2:4] if before >= 0 else np.zeros(2, np.int64)
        if after < len(s):
            return (s[after, 2:4] - low).astype(float)
        return np.full(2, float(max(t_ns - s[-1, 0], 0))) + (s[-1, 2:4] - low)

    def final(self, tid: int) -> tuple[float, float]:
        """The last counters read (a zombie's are final)."""
        s = self.series[tid]
        return float(s[-1, 2]), float(s[-1, 3])

    def still_spans(self, tid: int, start_ns: int, end_ns: int, state: str) -> list[tuple[int, int]]:
        """Spans within (start, end) between two reads that both saw ``state`` and no change of
        either counter in between: all in the run queue ("R") or all blocked ("S")."""
        s, st = self.series[tid], self.states[tid]
        return [(int(s[i, 1]), int(s[i + 1, 0])) for i in range(len(s) - 1)
                if st[i] == state and st[i + 1] == state and s[i + 1, 2] == s[i, 2]
                and (state == "R" or s[i + 1, 3] == s[i, 3])
                and s[i + 1, 0] - s[i, 1] > 2 * MS and start_ns <= s[i, 1] and s[i + 1, 0] <= end_ns]


@contextmanager
def independent_sampler(tmp_path: Path):
    """Run the independent sampler over this process and its descendants; yields a getter."""
    out = tmp_path / "independent.json"
    script = Path(__file__).with_name("independent_sampler.py")
    proc = subprocess.Popen([sys.executable, str(script), str(os.getpid()), str(out)], stdin=subprocess.PIPE)
    box: list[Independent] = []
    try:
        time.sleep(0.3)  # it is sampling before the run's first worker exists
        yield lambda: box[0]
    finally:
        time.sleep(0.1)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(20)
    box.append(Independent(json.loads(out.read_text())))


@contextmanager
def on_one_cpu():
    """Pin this thread (and so the engine, its threads and its workers) to one CPU."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run_observed(tmp_path: Path, config: dict, one_cpu: bool = False) -> tuple[RunResult, Independent]:
    """Run ``config`` while the independent sampler watches; returns both records."""
    with independent_sampler(tmp_path) as get, on_one_cpu() if one_cpu else nullcontext():
        slow = slowness()  # on the CPUs the run uses, before and after it
        result = run_config(config)
        slow = max(slow, slowness())
    ind = get()
    ind.exit_late_ns = int(EXIT_LATE_NS * slow)
    return result, ind


def worker_lanes(result: RunResult) -> list:
    """Lanes that had a ready time (sampled lanes)."""
    return [info for info in result.timeline.lanes if info.kind != "parent" and info.ready_ns >= 0]


def lane_intervals(result: RunResult, lane: int) -> np.ndarray:
    iv = result.timeline.intervals.data
    iv = iv[iv["lane"] == lane]
    return iv[np.argsort(iv["start_ns"])]


def check_structure(result: RunResult) -> None:
    """No interval over its length; every sampled lane tiled from ready to exit."""
    iv = result.timeline.intervals.data
    over = iv[iv["cpu_ns"] + iv["ready_ns"] > iv["end_ns"] - iv["start_ns"]]
    assert len(over) == 0, over
    for info in worker_lanes(result):
        rows = lane_intervals(result, info.index)
        assert len(rows), f"lane {info.index} has no state interval"
        assert rows["start_ns"][0] == info.ready_ns, info
        assert rows["end_ns"][-1] == info.exit_ns, info
        assert np.array_equal(rows["start_ns"][1:], rows["end_ns"][:-1]), f"gap or overlap on lane {info.index}"


def _ready_share_over(rows: np.ndarray, spans: list[tuple[int, int]]) -> float | None:
    """The share of ``spans`` that ``rows`` (a lane's intervals) draw as ready (None: too little)."""
    total = sum(b - a for a, b in spans)
    if total < 100 * MS:
        return None
    shares = np.minimum(rows["ready_ns"] / (rows["end_ns"] - rows["start_ns"]), 1.0)
    weight = 0.0
    for a, b in spans:
        overlap = np.maximum(np.minimum(rows["end_ns"], b) - np.maximum(rows["start_ns"], a), 0)
        weight += float((overlap * shares).sum())
    return weight / total


def check_against(result: RunResult, ind: Independent, min_life_ns: int = 300 * MS) -> list[float]:
    """Shares per lane within the tolerance (see SHARE_TOLERANCE); exit stamps on time; time the independent sampler saw
    blocked is not drawn as ready. Returns per lane the share of the time the independent
    sampler saw in the run queue that is drawn as ready."""
    drawn: list[float] = []
    drawn_blocked: list[float] = []
    for info in worker_lanes(result):
        assert info.tid in ind.series, f"the independent sampler never saw tid {info.tid}"
        life = info.exit_ns - info.ready_ns
        rows = lane_intervals(result, info.index)
        if info.tid in ind.gone:
            last_alive, first_dead = ind.gone[info.tid]
            assert last_alive - MS <= info.exit_ns <= first_dead + ind.exit_late_ns, (
                info, (info.exit_ns - first_dead) / MS, ind.exit_late_ns / MS)
        if life < min_life_ns:
            continue
        c0, r0 = ind.counters_at(info.tid, info.ready_ns)
        c1, r1 = ind.final(info.tid) if info.tid in ind.gone else ind.counters_at(info.tid, info.exit_ns)
        mine = np.array([rows["cpu_ns"].sum(), rows["ready_ns"].sum()]) / life
        theirs = np.array([c1 - c0, r1 - r0]) / life
        # procviz's totals are exact kernel counters at both ends of the lane (its hello and its
        # exit); the independent sampler's are interpolated between its reads, off by at most
        # `unsure` (measured from its own reads, so load widens it instead of breaking the test).
        unsure = (ind.uncertainty_at(info.tid, info.ready_ns) + ind.uncertainty_at(info.tid, info.exit_ns)) / life
        tolerance = SHARE_TOLERANCE + unsure
        assert np.all(np.abs(mine - theirs) <= tolerance), (info, mine, theirs, tolerance)
        assert abs(mine.sum() - theirs.sum()) <= tolerance.sum(), (info, mine, theirs, tolerance)  # waiting share
        for state, out in (("R", drawn), ("S", drawn_blocked)):
            spans = ind.still_spans(info.tid, info.ready_ns, info.exit_ns, state)
            share = _ready_share_over(rows, spans)
            if share is not None:
                out.append(share)
    assert all(share <= 0.4 for share in drawn_blocked), drawn_blocked
    return drawn


def test_four_cpu_workers_on_one_cpu(tmp_path) -> None:
    result, ind = run_observed(tmp_path, {"workers": 4, "api": "map", "chunksize": 1, "start_method": "spawn",
                                          "workload": {"kind": "cpu", "count": 8, "duration_ms": 150}},
                               one_cpu=True)
    assert np.all(result.timeline.state == TaskState.DONE)
    check_structure(result)
    drawn = check_against(result, ind)
    # Four runnable workers on one CPU: time the kernel shows in the run queue is drawn as ready
    # (on lanes where the independent sampler caught enough of it between two reads).
    assert all(share >= 0.6 for share in drawn), drawn
    iv = result.timeline.intervals.data
    length = iv["end_ns"] - iv["start_ns"]
    assert length[iv["state"] == WorkerState.READY].sum() > length[iv["state"] == WorkerState.WAITING].sum()


@pytest.mark.parametrize("kind", ["sleep", "io", "mixed"])
def test_blocking_kinds(tmp_path, kind: str) -> None:
    # 16 tasks: each lane lives about a second, so the independent sampler's uncertainty at the
    # lane's two ends (a read every 10 ms, sparser under load) is a small share of its life.
    result, ind = run_observed(tmp_path, {"workers": 2, "api": "map", "chunksize": 1,
                                          "workload": {"kind": kind, "count": 16, "duration_ms": 100}})
    check_structure(result)
    check_against(result, ind)


def test_thread_workers(tmp_path) -> None:
    result, ind = run_observed(tmp_path, {"backend": "thread_pool_executor", "workers": 2, "api": "submit",
                                          "workload": {"kind": "cpu", "count": 4, "duration_ms": 100}})
    assert any(info.kind == "thread" for info in worker_lanes(result))
    check_structure(result)
    check_against(result, ind)


def test_killed_worker_lanes_are_tiled_and_end_on_time(tmp_path) -> None:
    config = {"workers": 2, "api": "map", "chunksize": 1,
              "workload": {"kind": "function", "function": "procviz.engine.demo_tasks:kill_self_if",
                           "args": [[1], [3], [2], [4]]}}
    result, ind = run_observed(tmp_path, config)
    check_structure(result)
    check_against(result, ind)
    tl = result.timeline
    killed = [info for info in tl.lanes if info.exit_code == -9]
    assert len(killed) == 1
    task = int(np.flatnonzero(tl.state == TaskState.FAILED)[0])
    assert tl.lane[task] == killed[0].index
    assert tl.end_ns[task] == killed[0].exit_ns  # the killed task's bar ends when the kernel said


def test_a_consumer_applying_the_batches_holds_the_engines_timeline() -> None:
    """The tracker writes its Timeline only through the batches it hands out (one write path)."""
    from procviz.engine.config import parse_config
    from procviz.engine.runner import Engine
    from procviz.engine.timeline import Timeline

    engine = Engine()
    engine.start(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 6, "duration_ms": 50}}))
    result = engine.join(60)
    assert result is not None
    mine = Timeline()
    while True:
        try:
            mine.apply(engine.events.get_nowait())
        except Exception:  # queue.Empty
            break
    theirs = result.timeline
    for name in Timeline.TASK_COLUMNS:
        np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name), err_msg=name)
    assert mine.lanes == theirs.lanes and mine.texts == theirs.texts and mine.status == theirs.status
    for table in ("intervals", "resources", "spans", "machine"):
        assert np.array_equal(getattr(mine, table).data, getattr(theirs, table).data), table
    assert mine.span_labels == theirs.span_labels and mine.now_ns == theirs.now_ns
