"""Synthetic timelines for the tests (and the Gantt benchmark), built the way the engine builds one:
real :class:`EngineBatch` objects (events.py dtypes) fed to :meth:`Timeline.apply`.

* :func:`synth_batches` / :func:`synth_timeline`: a stream of batches for the chart, optionally
  split over several batches so the chart's incremental path is exercised.
* :func:`build_timeline`: every feature a timeline file must carry: failures carrying error texts
  (some reasons start like spreadsheet formulas), timeouts, tasks cancelled before they started,
  one still running, one queued, one never submitted, a pair of slices that overlap by clock
  jitter, unmeasured run-queue waits, OS-state intervals, resource samples, wait and callback
  spans, worker exits (one killed). ``exotic=True`` adds text no CSV can carry exactly (a lone
  surrogate, a NUL). :func:`assert_same_timeline` compares two timelines field by field.
* :func:`finished_run`: a finished run of n tasks (up to millions) for the panels.

test_gantt_synth.py and test_formats_synthetic.py check the builders themselves.
"""

from __future__ import annotations

import numpy as np

from procviz.engine.config import RunConfig
from procviz.engine.events import (
    END_DTYPE,
    INTERVAL_DTYPE,
    RESOURCE_DTYPE,
    SPAN_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    RunPhase,
    RunStatus,
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


# ---- every feature a file must carry ----------------------------------------------------------

PARENT_PID = 4000


def _rows(dtype: np.dtype, rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype)


def build_timeline(n: int = 60, k: int = 3, exotic: bool = True, seed: int = 0) -> Timeline:
    """The synthetic timeline described in the module docstring."""
    assert n >= 12 and k >= 2
    rng = np.random.default_rng(seed)
    config = RunConfig(workers=k).to_json()
    arg_texts = tuple(f"({i},)" for i in range(n))
    arg_texts = arg_texts[:1] + ("-5", "@SUM(A1)", "+1", "'quoted", 'comma, "quote"', "line\nbreak",
                                 "ünïcode ✓") + arg_texts[8:]
    run = RunInfo(n_tasks=n, t0_ns=T0, config=config, host="test-host", cpu_count=4, schedstat=True,
                  arg_texts=arg_texts, cost_ms=tuple(float(c) for c in rng.uniform(1, 20, n).round(3)),
                  chunks=tuple(i // 2 for i in range(n)))
    lanes = [LaneInfo(index=i, pid=4100 + i, tid=4100 + i, kind="process", name=f"wörker {i}",
                      created_ns=T0 + 2 * MS + i * MS, ready_ns=T0 + 40 * MS + i * MS) for i in range(k)]
    parent = LaneInfo(index=k, pid=PARENT_PID, tid=4001, kind="parent", name="parent · callbacks")
    pending, queued, running = n - 1, n - 2, n - 3
    cancelled = {n - 4, n - 5}
    submitted = [(i, T0 + MS + i * 10_000) for i in range(n) if i != pending]

    started, ended, texts = [], [], []
    lane_clock = [lane.ready_ns + MS for lane in lanes]
    for i in range(n):
        if i in (pending, queued) or i in cancelled:
            continue
        lane = i % k
        start = lane_clock[lane]
        if i == k:  # second task of lane 0 starts 2 us before the first ended: clock jitter
            start -= 102_000
        wall = int(rng.integers(2 * MS, 9 * MS))
        end = start + wall
        lane_clock[lane] = end + 100_000
        started.append((i, lane, start))
        if i == running:
            continue
        cpu = int(wall * 0.7)
        ready = -1 if i % 5 == 0 else int(wall * 0.1)
        state = TaskState.DONE
        if i % 7 == 3:
            state = TaskState.FAILED
            texts.append(TaskText(i, "error", "ValueError", f"bad value {i}",
                                  f"Traceback (most recent call last):\n  File \"w.py\", line {i}\nValueError: {i}"))
        elif i % 11 == 5:
            state, cpu, ready = TaskState.TIMEOUT, -1, -1
            texts.append(TaskText(i, "error", "TaskTimeout", "ran longer than 0.005 s"))
        elif i % 13 == 6:
            texts.append(TaskText(i, "result", "", f"{i * i}"))
        ended.append((i, lane, state, -1, end, cpu, ready))
    for i in sorted(cancelled):
        ended.append((i, -1, TaskState.CANCELLED, -1, -1, -1, -1))
        texts.append(TaskText(i, "error", "Cancelled", "the run was stopped"))
    # Reasons a spreadsheet would run as formulas, a comma/quote/newline one.
    texts.append(TaskText(10, "error", "", "=1+2"))
    texts.append(TaskText(17, "error", "", "@cmd"))
    texts.append(TaskText(24, "error", "Weird", 'has "quotes", commas\nand lines'))
    if exotic:
        texts.append(TaskText(31, "error", "Bytes", "name \udc80 undecodable, \0 nul"))

    end_all = max(lane_clock) + 5 * MS
    intervals, resources, spans = [], [], []
    for lane in lanes:
        t, j = lane.ready_ns, 0
        while t < end_all:
            state = (WorkerState.RUNNING, WorkerState.WAITING, WorkerState.READY)[j % 3]
            step = 5 * MS
            intervals.append((lane.index, state, t, t + step, step // 2 if state == WorkerState.RUNNING else 0,
                              step // 3 if state == WorkerState.READY else 0))
            resources.append((lane.index, t, np.float32(90.5 + j % 7), 30 * 1048576 + j * 4096))
            t += step
            j += 1
    for i in range(0, n, 6):
        spans.append((0, T0 + 60 * MS + i * MS, T0 + 60 * MS + i * MS + 300_000, 0))
        spans.append((k, T0 + 61 * MS + i * MS, T0 + 61 * MS + i * MS + 50_000, 1))
    half = len(intervals) // 2
    exits = [LaneInfo(**{**_fields(lane), "exit_ns": end_all + lane.index * MS, "exit_code": 0,
                         "exit_reason": "exited normally"}) for lane in lanes[:-1]]
    killed = lanes[-1]
    exits.append(LaneInfo(**{**_fields(killed), "exit_ns": end_all, "exit_code": -9,
                             "exit_reason": "killed by SIGKILL"}))

    tl = Timeline()
    tl.apply(EngineBatch(run=run, lanes=(*lanes, parent), submitted=_rows(SUBMIT_DTYPE, submitted),
                         status=RunStatus(RunPhase.STARTING, "starting workers"), now_ns=T0 + MS))
    tl.apply(EngineBatch(started=_rows(START_DTYPE, started), intervals=_rows(INTERVAL_DTYPE, intervals[:half]),
                         resources=_rows(RESOURCE_DTYPE, resources[: len(resources) // 2]),
                         spans=_rows(SPAN_DTYPE, spans[:2]), span_labels=("lock.acquire", "callback"),
                         status=RunStatus(RunPhase.RUNNING, "running"), now_ns=T0 + 50 * MS))
    tl.apply(EngineBatch(lanes=tuple(exits), ended=_rows(END_DTYPE, ended), texts=tuple(texts),
                         intervals=_rows(INTERVAL_DTYPE, intervals[half:]),
                         resources=_rows(RESOURCE_DTYPE, resources[len(resources) // 2:]),
                         spans=_rows(SPAN_DTYPE, spans[2:]),
                         status=RunStatus(RunPhase.FINISHED, "stopped by the user", "stopped"),
                         now_ns=end_all + 10 * MS))
    return tl


def _fields(lane: LaneInfo) -> dict:
    return {name: getattr(lane, name) for name in LaneInfo.__dataclass_fields__}


def assert_same_tasks(a: Timeline, b: Timeline, columns: tuple[str, ...] = Timeline.TASK_COLUMNS) -> None:
    """Every listed task column equal (NaN equal to NaN)."""
    assert a.n_tasks == b.n_tasks
    for name in columns:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def texts_of(tl: Timeline) -> list[tuple[int, str, str, str, str]]:
    """Each task's text, in order: (task id, kind, type, message, traceback). The id is the key's: a
    text several tasks share is one object whose own task_id is -1 (the engine's, and a reader's)."""
    return [(task_id, t.kind, t.type_name, t.message, t.traceback) for task_id, t in tl.texts.items()]


def assert_same_timeline(a: Timeline, b: Timeline) -> None:
    """Everything a Timeline holds, equal."""
    assert_same_tasks(a, b)
    assert a.run == b.run
    assert a.lanes == b.lanes
    assert texts_of(a) == texts_of(b)
    for table in ("intervals", "resources", "spans"):
        assert np.array_equal(getattr(a, table).data, getattr(b, table).data), table
    assert a.span_labels == b.span_labels
    assert a.status == b.status
    assert a.now_ns == b.now_ns


# ---- a finished run of n tasks ----------------------------------------------------------------

RUN_T0 = 10_000_000_000


def finished_run(n: int, lanes: int = 4, schedstat: bool = True, seed: int = 0) -> Timeline:
    """A finished run of ``n`` tasks on ``lanes`` workers with random durations and a few failures."""
    rng = np.random.default_rng(seed)
    tl = Timeline()
    info = RunInfo(n_tasks=n, t0_ns=RUN_T0, config={"workers": lanes, "workload": {"kind": "cpu"}}, host="h",
                   cpu_count=lanes, schedstat=schedstat)
    lane_infos = tuple(LaneInfo(i, 1000 + i, 1000 + i, "process", f"worker {i}", RUN_T0, RUN_T0 + 1)
                       for i in range(lanes))
    ids = np.arange(n)
    dur = rng.integers(1_000, 1_000_000, n)
    lane = ids % lanes
    start = RUN_T0 + 5_000 + np.zeros(n, np.int64)
    for k in range(lanes):  # back to back per lane
        mine = lane == k
        start[mine] = RUN_T0 + 5_000 + np.concatenate([[0], np.cumsum(dur[mine])[:-1]])
    sub = np.zeros(n, SUBMIT_DTYPE)
    sub["task_id"], sub["t_ns"] = ids, RUN_T0
    st = np.zeros(n, START_DTYPE)
    st["task_id"], st["lane"], st["t_ns"] = ids, lane, start
    en = np.zeros(n, END_DTYPE)
    en["task_id"], en["lane"], en["start_ns"], en["end_ns"] = ids, lane, start, start + dur
    en["state"] = np.where(ids % 97 == 5, TaskState.FAILED, TaskState.DONE)
    en["cpu_ns"], en["ready_ns"] = dur // 2, (dur // 10 if schedstat else -1)
    res = np.zeros(lanes * 50, RESOURCE_DTYPE)
    res["lane"] = np.repeat(np.arange(lanes), 50)
    res["t_ns"] = RUN_T0 + np.tile(np.arange(50), lanes) * 20_000_000
    res["cpu_pct"], res["rss"] = 50.0, 20 << 20
    tl.apply(EngineBatch(run=info, lanes=lane_infos, submitted=sub, started=st, ended=en, resources=res,
                         texts=(TaskText(5, "error", "ValueError", "boom"),),
                         status=RunStatus(RunPhase.FINISHED, "done", "completed"),
                         now_ns=int((start + dur).max())))
    return tl
