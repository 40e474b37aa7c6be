"""A synthetic-timeline builder for the Gantt tests and benchmark, and tests that it is faithful.

Timelines are built the way the GUI gets them: real :class:`EngineBatch` objects (events.py
dtypes) fed to :meth:`Timeline.apply`, optionally split over several batches so the chart's
incremental path is exercised.
"""

from __future__ import annotations

import numpy as np

from procviz.engine.events import (
    END_DTYPE,
    INTERVAL_DTYPE,
    SPAN_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    TaskState,
    TaskText,
    WorkerState,
)
from procviz.engine.timeline import Timeline

T0 = 1_000_000_000_000  # an arbitrary monotonic_ns origin
MS = 1_000_000


def lane_infos(n_lanes: int, exit_lanes: tuple[int, ...] = (), exit_ns: dict[int, int] | None = None,
               threads: bool = False, parent: bool = False) -> list[LaneInfo]:
    """Lanes with NEW periods (created..ready), pids 4000+i, optional exits."""
    lanes = []
    for i in range(n_lanes):
        kind = "parent" if parent and i == n_lanes - 1 else ("thread" if threads else "process")
        created = T0 - 5 * MS + i * 3 * MS
        ready = created + 40 * MS + i * 7 * MS
        exit_at = (exit_ns or {}).get(i, -1) if i in exit_lanes else -1
        lanes.append(LaneInfo(index=i, pid=4000 + (0 if threads else i), tid=9000 + i, kind=kind,
                              name=f"worker {i}", created_ns=created, ready_ns=ready, exit_ns=exit_at,
                              exit_code=0 if exit_at >= 0 else None))
    return lanes


def synth_batches(n_tasks: int = 200, n_lanes: int = 4, seed: int = 0, chunksize: int = 1,
                  mean_ms: float = 5.0, min_ms: float = 0.02, gap_ms: float = 0.3, failed: tuple[int, ...] = (),
                  timeout: tuple[int, ...] = (), cancelled: tuple[int, ...] = (),
                  unstarted_cancelled: tuple[int, ...] = (), queued: tuple[int, ...] = (),
                  running: int = 0, batches: int = 1,
                  intervals: bool = True, sample_ms: float = 10.0, spans: int = 0,
                  exit_lanes: tuple[int, ...] = ()) -> list[EngineBatch]:
    """EngineBatches describing a Pool-like run of ``n_tasks`` tasks on ``n_lanes`` workers.

    Chunk ``c`` (``chunksize`` consecutive task ids) runs on lane ``c % n_lanes``, back to back
    with small gaps. The last ``running`` tasks (by start) have no end; ``unstarted_cancelled``
    tasks never start and end cancelled; ``queued`` tasks never start nor end.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(n_tasks, dtype=np.int64)
    chunk = ids // chunksize
    lane = (chunk % n_lanes).astype(np.int32)
    dur = np.maximum(rng.exponential(mean_ms * MS, n_tasks), min_ms * MS).astype(np.int64)
    gap = np.maximum(rng.exponential(gap_ms * MS, n_tasks), 1_000).astype(np.int64)
    never = np.zeros(n_tasks, bool)
    never[list(unstarted_cancelled)] = True
    never[list(queued)] = True
    infos = lane_infos(n_lanes)
    start = np.full(n_tasks, -1, np.int64)
    end = np.full(n_tasks, -1, np.int64)
    for k in range(n_lanes):
        mine = np.flatnonzero((lane == k) & ~never)
        t = infos[k].ready_ns + np.cumsum(gap[mine] + dur[mine]) - dur[mine]
        start[mine] = t
        end[mine] = t + dur[mine]
    state = np.full(n_tasks, TaskState.DONE, np.uint8)
    state[list(failed)] = TaskState.FAILED
    state[list(timeout)] = TaskState.TIMEOUT
    state[list(cancelled)] = TaskState.CANCELLED
    state[never] = TaskState.CANCELLED
    by_start = np.argsort(np.where(start >= 0, start, np.iinfo(np.int64).max), kind="stable")
    started_ids = by_start[: int(np.count_nonzero(start >= 0))]
    run_ids = started_ids[len(started_ids) - running :] if running else np.zeros(0, np.int64)
    now = int(end[start >= 0].max()) + 2 * MS if np.any(start >= 0) else T0
    end_final = end.copy()
    end_final[run_ids] = -1
    exit_ns = {k: int(end[(lane == k) & (start >= 0)].max()) + 3 * MS for k in exit_lanes}
    infos = lane_infos(n_lanes, exit_lanes, exit_ns)

    run = RunInfo(n_tasks=n_tasks, t0_ns=T0, config={"workload": {"kind": "cpu"}, "workers": n_lanes},
                  host="test", cpu_count=2, schedstat=True,
                  arg_texts=tuple(f"cpu({int(d // 1000)} us)" for d in dur) if n_tasks <= 100_000 else (),
                  cost_ms=tuple(float(d) / MS for d in dur) if n_tasks <= 100_000 else (),
                  chunks=tuple(int(c) for c in chunk) if n_tasks <= 100_000 else ())
    iv = _intervals(rng, start, end_final, lane, infos, now, sample_ms) if intervals else np.zeros(0, INTERVAL_DTYPE)
    sp = np.zeros(spans, SPAN_DTYPE)
    if spans:
        pick = rng.choice(started_ids, size=spans, replace=False)
        sp["lane"] = lane[pick]
        sp["start_ns"] = start[pick] + dur[pick] // 4
        sp["end_ns"] = start[pick] + dur[pick] // 2
        sp["label"] = np.arange(spans) % 2

    parts = np.array_split(started_ids, batches)
    # Batch b carries the intervals that begin between its first start and the next batch's.
    edges = [np.iinfo(np.int64).min] + [int(start[p[0]]) if len(p) else T0 for p in parts[1:]]
    edges.append(np.iinfo(np.int64).max)
    out = []
    for b, part in enumerate(parts):
        sub = np.zeros(n_tasks if b == 0 else 0, SUBMIT_DTYPE)
        sub["task_id"] = ids[: len(sub)]
        sub["t_ns"] = T0
        st = np.zeros(len(part), START_DTYPE)
        st["task_id"], st["lane"], st["t_ns"] = part, lane[part], start[part]
        fin = part[~np.isin(part, run_ids)]
        if b == batches - 1:
            fin = np.concatenate([fin, np.asarray(unstarted_cancelled, np.int64)])
        en = np.zeros(len(fin), END_DTYPE)
        en["task_id"], en["lane"], en["state"] = fin, np.where(never[fin], -1, lane[fin]), state[fin]
        en["start_ns"], en["end_ns"] = start[fin], np.where(never[fin], now, end[fin])
        en["cpu_ns"] = (end[fin] - start[fin]) * 8 // 10
        en["ready_ns"] = (end[fin] - start[fin]) // 10
        texts = tuple(TaskText(int(i), "error", "ValueError", f"bad input {i}", "Traceback ...")
                      for i in fin if state[i] == TaskState.FAILED)
        texts += tuple(TaskText(int(i), "result", message=repr(int(i) * 2)) for i in fin[:3])
        iv_b = iv[(iv["start_ns"] >= edges[b]) & (iv["start_ns"] < edges[b + 1])]
        out.append(EngineBatch(run=run if b == 0 else None, lanes=tuple(infos) if b == 0 else (),
                               submitted=sub, started=st, ended=en, intervals=iv_b,
                               spans=sp if b == batches - 1 else np.zeros(0, SPAN_DTYPE),
                               span_labels=("lock.acquire", "queue.get") if b == batches - 1 and spans else (),
                               texts=texts,
                               now_ns=int(start[part].max()) + MS if b < batches - 1 and len(part) else now))
    return out


def _intervals(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, lane: np.ndarray,
               infos: list[LaneInfo], now: int, sample_ms: float) -> np.ndarray:
    """Sampled worker states: running (some ready) while a task runs, waiting between tasks."""
    rows = []
    step = int(sample_ms * MS)
    for info in infos:
        k = info.index
        mine = np.flatnonzero((lane == k) & (start >= 0))
        if len(mine) == 0:
            continue
        s = start[mine]
        e = np.where(end[mine] >= 0, end[mine], now)
        order = np.argsort(s)
        s, e = s[order], e[order]
        stop = info.exit_ns if info.exit_ns >= 0 else now
        t = np.arange(info.ready_ns, stop, step, dtype=np.int64)
        if len(t) == 0:
            continue
        idx = np.searchsorted(s, t, side="right") - 1
        busy = (idx >= 0) & (t < e[np.maximum(idx, 0)])
        st = np.where(busy, np.where(rng.random(len(t)) < 0.2, WorkerState.READY, WorkerState.RUNNING),
                      WorkerState.WAITING).astype(np.uint8)
        cut = np.concatenate(([0], np.flatnonzero(st[1:] != st[:-1]) + 1))
        iv = np.zeros(len(cut), INTERVAL_DTYPE)
        iv["lane"] = k
        iv["state"] = st[cut]
        iv["start_ns"] = t[cut]
        iv["end_ns"] = np.append(t[cut[1:]], min(stop, int(t[-1]) + step))
        rows.append(iv)
    return np.concatenate(rows) if rows else np.zeros(0, INTERVAL_DTYPE)


def synth_timeline(**kwargs: object) -> Timeline:
    """A Timeline fed with :func:`synth_batches` (same keyword arguments)."""
    tl = Timeline()
    for batch in synth_batches(**kwargs):  # type: ignore[arg-type]
        tl.apply(batch)
    return tl


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
