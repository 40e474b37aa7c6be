"""The Chrome-trace events of a Timeline, as JSON text lines, produced in bounded chunks.

Every generator yields lists of at most ``CHUNK`` event strings, formatted with ``%`` templates
straight from numpy columns (no dict per event), so a million tasks cost a few seconds and a few
chunks of memory. Timestamps and durations are microseconds from the run start with three
decimals, i.e. exact nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.events import TaskState, WorkerState
from engine.formats.chrome_tracks import TrackLayout
from engine.formats.jsonio import encode_str
from engine.formats.model import TASK_STATE_NAMES, WORKER_STATE_NAMES, reason_text
from engine.formats.overlap import clip_overlaps
from engine.timeline import Timeline

CHUNK = 50_000
# Counter points for "tasks in flight": above this many changes the series is cut into bins and
# each bin keeps its peak and its last value (a million tasks make two million changes).
MAX_FLIGHT_BINS = 10_000

_TASK_CNAME = {TaskState.FAILED: ',"cname":"terrible"', TaskState.TIMEOUT: ',"cname":"bad"',
               TaskState.CANCELLED: ',"cname":"grey"'}
_STATE_CNAME = {WorkerState.NEW: "grey", WorkerState.READY: "thread_state_runnable",
                WorkerState.RUNNING: "thread_state_running", WorkerState.WAITING: "thread_state_sleeping",
                WorkerState.TERMINATED: "black"}
_X_TASK = ('{"ph":"X","cat":"task","name":"task %d","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{"task":%d,'
           '"state":"%s","chunk":%d,"queued_ms":%s,"cpu_ms":%s,"ready_ms":%s,"waiting_ms":%s%s}%s}')
_BEGIN = '{"ph":"b","cat":"queue","name":"queued","id":"0x%x","pid":%d,"tid":%d,"ts":%.3f,"args":{"task":%d}}'
_END = '{"ph":"e","cat":"queue","name":"queued","id":"0x%x","pid":%d,"tid":%d,"ts":%.3f}'
_X_STATE = '{"ph":"X","cat":"state","name":"%s","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{%s},"cname":"%s"}'
_X_SPAN = '{"ph":"X","cat":"%s","name":%s,"pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{"lane":%d}}'
_FLIGHT = '{"ph":"C","name":"tasks","pid":%d,"tid":%d,"ts":%.3f,"args":{"queued":%d,"running":%d}}'
_CPU = '{"ph":"C","name":"cpu","pid":%d,"tid":%d,"ts":%.3f,"args":{"percent":%.1f}}'
_RSS = '{"ph":"C","name":"rss","pid":%d,"tid":%d,"ts":%.3f,"args":{"MiB":%.3f}}'


def _us(ns: np.ndarray, t0: int) -> list[float]:
    return ((ns - t0) / 1000.0).tolist()


def _ms_texts(ns: np.ndarray) -> list[str]:
    return ["%.3f" % v if v >= 0 else "null" for v in (ns / 1e6).tolist()]


def _chunks(n: int) -> Iterator[slice]:
    for lo in range(0, n, CHUNK):
        yield slice(lo, min(lo + CHUNK, n))


def _lane_arrays(layout: TrackLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pid = np.array([t[0] for t in layout.worker_tracks] or [0], dtype=np.int64)
    tid = np.array([t[1] for t in layout.worker_tracks] or [0], dtype=np.int64)
    track = np.array(layout.track_ids or (0,), dtype=np.int64)
    return pid, tid, track


def task_slices(tl: Timeline, layout: TrackLayout, trace_end: int) -> Iterator[list[str]]:
    """One ``X`` per started task on its worker's track; running tasks reach ``trace_end``."""
    t0 = tl.t0_ns
    ids = np.flatnonzero((tl.start_ns >= 0) & (tl.lane >= 0))
    if not len(ids):
        return
    lane = tl.lane[ids].astype(np.int64)
    start = tl.start_ns[ids]
    end = np.maximum(np.where(tl.end_ns[ids] >= 0, tl.end_ns[ids], trace_end), start)
    pid_of, tid_of, track_of = _lane_arrays(layout)
    new_start, new_end = clip_overlaps(track_of[lane], start, end)
    clipped = set(ids[new_start != start].tolist())
    extras = _task_extras(tl)
    queued, waiting = tl.queued_ns(), tl.waiting_ns()
    for sl in _chunks(len(ids)):
        part = ids[sl]
        rows = zip(
            part.tolist(), pid_of[lane[sl]].tolist(), tid_of[lane[sl]].tolist(), _us(new_start[sl], t0),
            ((new_end[sl] - new_start[sl]) / 1000.0).tolist(), tl.state[part].tolist(), tl.chunk[part].tolist(),
            _ms_texts(queued[part]), _ms_texts(tl.cpu_ns[part]), _ms_texts(tl.ready_ns[part]),
            _ms_texts(waiting[part]), strict=True,
        )
        yield [
            _X_TASK % (i, pid, tid, ts, dur, i, TASK_STATE_NAMES[st], ch, q, c, r, w,
                       extras.get(i, "") + (',"clipped":true' if i in clipped else ""), _TASK_CNAME.get(st, ""))
            for i, pid, tid, ts, dur, st, ch, q, c, r, w in rows
        ]


def _task_extras(tl: Timeline) -> dict[int, str]:
    """Per task, the optional args: reason/traceback or result text, and the arguments text."""
    out: dict[int, str] = {}
    run = tl.run
    if run is not None and run.arg_texts:
        out = {i: ',"args":' + encode_str(a) for i, a in enumerate(run.arg_texts[: tl.n_tasks])}
    for task_id, text in tl.texts.items():
        if text.kind == "error":
            part = ',"reason":' + encode_str(reason_text(text))
            if text.traceback:
                part += ',"traceback":' + encode_str(text.traceback)
        else:
            part = ',"result":' + encode_str(text.message)
        out[task_id] = out.get(task_id, "") + part
    return out


def queue_spans(tl: Timeline, layout: TrackLayout, trace_end: int) -> Iterator[list[str]]:
    """Async ``b``/``e`` per submitted task: submitted -> started (or ended / trace end)."""
    ids = np.flatnonzero(tl.submitted_ns >= 0)
    sub = tl.submitted_ns[ids]
    start, end = tl.start_ns[ids], tl.end_ns[ids]
    left = np.maximum(np.where(start >= 0, start, np.where(end >= 0, end, trace_end)), sub)
    pid, tid, t0 = layout.parent_pid, layout.queue_tid, tl.t0_ns
    for sl in _chunks(len(ids)):
        out: list[str] = []
        for i, b, e in zip(ids[sl].tolist(), _us(sub[sl], t0), _us(left[sl], t0), strict=True):
            out.append(_BEGIN % (i, pid, tid, b, i))
            out.append(_END % (i, pid, tid, e))
        yield out


def state_slices(tl: Timeline, layout: TrackLayout, trace_end: int) -> tuple[list[str], set[int]]:
    """``X`` per OS-state interval on each lane's state track, plus NEW and TERMINATED from the
    lane's lifecycle; returns the events and the lanes that have any."""
    iv = tl.intervals.data
    lane = [iv["lane"].astype(np.int64)]
    state = [iv["state"].astype(np.int64)]
    start, end = [iv["start_ns"]], [iv["end_ns"]]
    args = [f'"cpu_ms":{c / 1e6:.3f},"ready_ms":{r / 1e6:.3f},"blocked_ms":{max(e - s - c - r, 0) / 1e6:.3f}'
            for s, e, c, r in zip(iv["start_ns"].tolist(), iv["end_ns"].tolist(), iv["cpu_ns"].tolist(),
                                  iv["ready_ns"].tolist(), strict=True)]
    extra_lane, extra_state, extra_start, extra_end = [], [], [], []
    for info in layout.lanes:
        if 0 <= info.created_ns <= info.ready_ns:
            extra_lane.append(info.index), extra_state.append(WorkerState.NEW)
            extra_start.append(info.created_ns), extra_end.append(info.ready_ns)
            args.append('"from":"created","to":"ready"')
        if info.exit_ns >= 0:
            extra_lane.append(info.index), extra_state.append(WorkerState.TERMINATED)
            extra_start.append(info.exit_ns), extra_end.append(max(trace_end, info.exit_ns))
            code = "null" if info.exit_code is None else str(int(info.exit_code))
            args.append(f'"exit_code":{code},"reason":{encode_str(info.exit_reason)}')
    lane.append(np.array(extra_lane, dtype=np.int64))
    state.append(np.array(extra_state, dtype=np.int64))
    start.append(np.array(extra_start, dtype=np.int64))
    end.append(np.array(extra_end, dtype=np.int64))
    lanes, states = np.concatenate(lane), np.concatenate(state)
    s, e = clip_overlaps(lanes, np.concatenate(start), np.concatenate(end))
    pids = [info.pid for info in layout.lanes]
    t0 = tl.t0_ns
    events = [
        _X_STATE % (WORKER_STATE_NAMES[st], pids[ln], layout.state_tid(ln), ts, dur, a, _STATE_CNAME[WorkerState(st)])
        for ln, st, ts, dur, a in zip(lanes.tolist(), states.tolist(), _us(s, t0), ((e - s) / 1000.0).tolist(), args,
                                      strict=True)
    ]
    return events, set(lanes.tolist())


def wait_spans(tl: Timeline, layout: TrackLayout) -> tuple[list[str], set[int]]:
    """``X`` per wait / callback span on each lane's waits track; and the lanes that have any."""
    sp = tl.spans.data
    lanes = sp["lane"].astype(np.int64)
    s, e = clip_overlaps(lanes, sp["start_ns"], sp["end_ns"])
    labels = [encode_str(label) for label in tl.span_labels]
    t0 = tl.t0_ns
    events = []
    for ln, label, ts, dur in zip(lanes.tolist(), sp["label"].tolist(), _us(s, t0), ((e - s) / 1000.0).tolist(),
                                  strict=True):
        info = layout.lanes[ln]
        cat = "callback" if info.kind == "parent" else "wait"
        name = labels[label] if 0 <= label < len(labels) else '"?"'
        events.append(_X_SPAN % (cat, name, info.pid, layout.span_tid(ln), ts, dur, ln))
    return events, set(lanes.tolist())


def flight_counter(tl: Timeline, layout: TrackLayout, trace_end: int) -> list[str]:
    """``C`` events: tasks queued and tasks running over time, on the parent's process."""
    sub, start, end = tl.submitted_ns, tl.start_ns, tl.end_ns
    terminal = tl.state >= TaskState.DONE
    queued = sub >= 0
    left_queue = queued & ((start >= 0) | terminal)
    left_at = np.maximum(np.where(start >= 0, start, np.where(end >= 0, end, trace_end)), sub)
    running = start >= 0
    stopped = running & (end >= 0)
    times = np.concatenate([sub[queued], left_at[left_queue], start[running], end[stopped]])
    dq = np.concatenate([np.ones(queued.sum()), -np.ones(left_queue.sum()), np.zeros(running.sum() + stopped.sum())])
    dr = np.concatenate([np.zeros(queued.sum() + left_queue.sum()), np.ones(running.sum()), -np.ones(stopped.sum())])
    if not len(times):
        return []
    order = np.argsort(times, kind="stable")
    times = times[order]
    q = np.cumsum(dq[order]).astype(np.int64)
    r = np.cumsum(dr[order]).astype(np.int64)
    last = np.r_[times[1:] != times[:-1], True]  # the value after all changes at one instant
    times, q, r = times[last], q[last], r[last]
    if len(times) > 2 * MAX_FLIGHT_BINS:
        times, q, r = _bin_peaks(times, q, r)
    pid, tid, t0 = layout.parent_pid, layout.queue_tid, tl.t0_ns
    return [_FLIGHT % (pid, tid, ts, a, b) for ts, a, b in zip(_us(times, t0), q.tolist(), r.tolist(), strict=True)]


def _bin_peaks(times: np.ndarray, q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most two points per time bin: the bin's peak at its first change, its last value at its
    last change (so peaks stay visible, shifted by at most one bin, and levels stay right)."""
    width = (int(times[-1]) - int(times[0])) // MAX_FLIGHT_BINS + 1
    bins = (times - times[0]) // width
    first = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    last = np.r_[first[1:] - 1, len(times) - 1]
    keep = np.column_stack([last > first, np.ones(len(first), dtype=bool)]).ravel()
    t = np.column_stack([times[first], times[last]]).ravel()
    qq = np.column_stack([np.maximum.reduceat(q, first), q[last]]).ravel()
    rr = np.column_stack([np.maximum.reduceat(r, first), r[last]]).ravel()
    return t[keep], qq[keep], rr[keep]


def resource_counters(tl: Timeline, layout: TrackLayout) -> Iterator[list[str]]:
    """``C`` events per resource sample: CPU % and RSS (MiB) on the lane's process."""
    res = tl.resources.data
    if not len(res):
        return
    pids = np.array([info.pid for info in layout.lanes], dtype=np.int64)
    tids = np.array([info.tid for info in layout.lanes], dtype=np.int64)
    pid = pids[res["lane"]]
    # Thread lanes of one process report the same process figures: one point per (pid, time).
    _, unique = np.unique(np.column_stack([pid, res["t_ns"]]), axis=0, return_index=True)
    unique.sort()
    rows = res[unique]
    pid, tid = pid[unique], tids[rows["lane"]]
    t0 = tl.t0_ns
    for sl in _chunks(len(rows)):
        out: list[str] = []
        for p, t, ts, cpu, rss in zip(pid[sl].tolist(), tid[sl].tolist(), _us(rows["t_ns"][sl], t0),
                                      rows["cpu_pct"][sl].astype(np.float64).tolist(),
                                      (rows["rss"][sl] / 1048576.0).tolist(), strict=True):
            out.append(_CPU % (p, t, ts, cpu if np.isfinite(cpu) else 0.0))
            out.append(_RSS % (p, t, ts, rss))
        yield out
