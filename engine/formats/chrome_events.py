"""The Chrome-trace events of a Timeline, as JSON text lines, produced in bounded chunks.

Every generator yields lists of at most ``CHUNK`` event strings, formatted with ``%`` templates
straight from numpy columns (no dict per event); the two with an event per task (task slices and
queue spans) yield ready blocks of bytes built from whole columns (engine/formats/textcols.py), so a
million tasks cost about a second and a few chunks of memory. Timestamps and durations are
microseconds from the run start with three decimals, i.e. exact nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from procviz.engine.events import LaneInfo, TaskState, WorkerState
from procviz.engine.formats.chrome_tracks import TrackLayout
from procviz.engine.formats.jsonio import encode_str, text_bytes
from procviz.engine.formats.model import TASK_STATE_NAMES, WORKER_STATE_NAMES, reason_text
from procviz.engine.formats.overlap import clip_overlaps
from procviz.engine.formats.parallel import ordered_map
from procviz.engine.formats.textcols import (
    CellTable,
    Field,
    fixed_field,
    hex_field,
    int_field,
    join_fields,
    join_json,
    join_with_inserts,
    optional_field,
    table_field,
)
from procviz.engine.timeline import Timeline

CHUNK = 4096  # rows per block: a block's matrix (~1.5 MB) stays in cache while its columns are written
# Counter points for "tasks in flight": above this many changes the series is cut into bins and
# each bin keeps its peak and its last value (a million tasks make two million changes).
MAX_FLIGHT_BINS = 10_000

_TASK_CNAME = {TaskState.FAILED: ',"cname":"terrible"', TaskState.TIMEOUT: ',"cname":"bad"',
               TaskState.CANCELLED: ',"cname":"grey"'}
_STATE_CNAME = {WorkerState.NEW: "grey", WorkerState.READY: "thread_state_runnable",
                WorkerState.RUNNING: "thread_state_running", WorkerState.WAITING: "thread_state_sleeping",
                WorkerState.TERMINATED: "black"}
# (%s after the chunk: the measured ms args, ``,"queued_ms":1.500`` each, an unmeasured one left out)
_X_TASK = ('{"ph":"X","cat":"task","name":"task %d","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{'
           '"state":"%s","chunk":%d%s%s}%s}')
# Queue spans: one per Pool chunk (the unit a Pool queues); a chunk of one task names the task.
_BEGIN = '{"ph":"b","cat":"queue","name":"queued","id":"0x%x","pid":%d,"tid":%d,"ts":%.3f,"args":{"task":%d}}'
_BEGIN_CHUNK = ('{"ph":"b","cat":"queue","name":"queued","id":"0x%x","pid":%d,"tid":%d,"ts":%.3f,'
                '"args":{"chunk":%d,"tasks":%d}}')
_END = '{"ph":"e","cat":"queue","name":"queued","id":"0x%x","pid":%d,"tid":%d,"ts":%.3f}'
_X_STATE = '{"ph":"X","cat":"state","name":"%s","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{%s},"cname":"%s"}'
_X_SPAN = '{"ph":"X","cat":"%s","name":%s,"pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,"args":{"lane":%d}}'
_FLIGHT = '{"ph":"C","name":"tasks","pid":%d,"tid":%d,"ts":%.3f,"args":{"queued":%d,"running":%d}}'
_CPU = '{"ph":"C","name":"cpu","pid":%d,"tid":%d,"ts":%.3f,"args":{"percent":%.1f}}'
_RSS = '{"ph":"C","name":"rss","pid":%d,"tid":%d,"ts":%.3f,"args":{"MiB":%.3f}}'


def _us(ns: np.ndarray, t0: int) -> list[float]:
    return ((ns - t0) / 1000.0).tolist()


def _ms_texts(ns: np.ndarray) -> list[str]:
    return [f"{v:.3f}" if v >= 0 else "null" for v in (ns / 1e6).tolist()]


def _chunks(n: int) -> Iterator[slice]:
    for lo in range(0, n, CHUNK):
        yield slice(lo, min(lo + CHUNK, n))


def _even_chunks(ids: np.ndarray) -> list[slice]:
    """Chunks of the ascending task ids ``ids`` that never mix ids of different lengths in decimal
    or in hex: a chunk's names (``"task 99"``) and queue ids (``"0xff"``) are then all one width,
    so its padding (kept as JSON whitespace) never falls inside those strings."""
    powers = [base**k for base in (10, 16) for k in range(1, 20) if base**k <= int(ids[-1])] if len(ids) else []
    cuts = set(range(0, len(ids), CHUNK)) | set(np.searchsorted(ids, powers).tolist())
    bounds = sorted(cuts | {len(ids)})
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False) if hi > lo]


def _lane_arrays(layout: TrackLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pid = np.array([t[0] for t in layout.worker_tracks] or [0], dtype=np.int64)
    tid = np.array([t[1] for t in layout.worker_tracks] or [0], dtype=np.int64)
    track = np.array(layout.track_ids or (0,), dtype=np.int64)
    return pid, tid, track


class TaskSlices:
    """The task slices' columns made ready once (clipped times, optional args): the set-up a writer
    can run on its own thread while earlier events are written; :meth:`blocks` formats them."""

    def __init__(self, tl: Timeline, layout: TrackLayout, trace_end: int) -> None:
        self.tl = tl
        self.ids = ids = np.flatnonzero((tl.start_ns >= 0) & (tl.lane >= 0))
        if not len(ids):
            return
        self.lane = lane = tl.lane[ids].astype(np.int64)
        start = tl.start_ns[ids]
        end = np.maximum(np.where(tl.end_ns[ids] >= 0, tl.end_ns[ids], trace_end), start)
        pid_of, tid_of, track_of = _lane_arrays(layout)
        self.pid_text, self.tid_text = (CellTable([str(v).encode() for v in col.tolist()]) for col in (pid_of, tid_of))
        self.start, self.end = clip_overlaps(track_of[lane], start, end)
        self.clipped = self.start != start
        self.extras = _task_extras(tl)
        self.extra_ids = np.array(sorted(self.extras), dtype=np.int64)
        self.queued, self.waiting = tl.queued_ns(), tl.waiting_ns()

    def blocks(self) -> Iterator[bytes | memoryview]:
        """Blocks of event lines (joined by ``",\\n"``), chunk after chunk, in task order."""
        if len(self.ids):
            yield from ordered_map(self._block, _even_chunks(self.ids))

    def _block(self, sl: slice) -> bytes | memoryview:
        """The events of one chunk of tasks (on a formatting thread: reads shared arrays only), formatted
        from whole columns (engine/formats/textcols.py) with the same text as ``_X_TASK``."""
        tl, t0, lane = self.tl, self.tl.t0_ns, self.lane
        part = self.ids[sl]
        n = len(part)
        task = int_field(part)
        sparse: dict[int, bytes] = {}  # row -> its rare ms args (see _ms_arg)
        head: list[Field | bytes] = [
                b'{"ph":"X","cat":"task","name":"task ', task, b'","pid":', table_field(self.pid_text, lane[sl]),
                b',"tid":', table_field(self.tid_text, lane[sl]), b',"ts":', fixed_field(self.start[sl] - t0, 3),
                b',"dur":', fixed_field(self.end[sl] - self.start[sl], 3), b',"args":{"state":"',
                table_field(_STATE_WORDS, tl.state[part]), b',"chunk":', int_field(tl.chunk[part]),
                *_ms_arg(b',"queued_ms":', self.queued[part], sparse), *_ms_arg(b',"cpu_ms":', tl.cpu_ns[part], sparse),
                *_ms_arg(b',"ready_ms":', tl.ready_ns[part], sparse),
                *_ms_arg(b',"waiting_ms":', self.waiting[part], sparse)]
        tail: list[Field | bytes] = [
                table_field(_CLIPPED, self.clipped[sl].astype(np.intp)), b"}",
                table_field(_TASK_CNAMES, tl.state[part]), b"},\n"]
        lo, hi = np.searchsorted(self.extra_ids, [part[0], part[-1] + 1]).tolist()
        with_extra = self.extra_ids[lo:hi]
        rows = np.searchsorted(part, with_extra)
        on_row = part[np.minimum(rows, n - 1)] == with_extra  # (tasks that never started have no slice)
        for row, i in zip(rows[on_row].tolist(), with_extra[on_row].tolist(), strict=True):
            sparse[row] = sparse.get(row, b"") + text_bytes(self.extras[i])
        rows = np.array(sorted(sparse), dtype=np.int64)
        inserts = [sparse[row] for row in rows.tolist()]
        return join_with_inserts(head, tail, n, rows, inserts, trim=2)


def task_slices(tl: Timeline, layout: TrackLayout, trace_end: int) -> Iterator[bytes | memoryview]:
    """One ``X`` per started task on its worker's track; running tasks reach ``trace_end``
    (blocks of event lines, see :class:`TaskSlices`)."""
    return TaskSlices(tl, layout, trace_end).blocks()


_STATE_WORDS = CellTable([name.encode() + b'"' for name in TASK_STATE_NAMES])  # (padding after the quote)
_TASK_CNAMES = CellTable([_TASK_CNAME.get(TaskState(code), "").encode() for code in range(len(TaskState))])
_CLIPPED = CellTable([b"", b',"clipped":true'])


# At most this share of a chunk's rows knowing an ms arg: it is written for those rows only, as text
# put into their rows (procviz's own 1M no-op run knew the ready time of ~1 task in 2000).
SPARSE_SHARE = 1 / 16


def _ms_arg(key: bytes, ns: np.ndarray, sparse: dict[int, bytes]) -> list[Field | bytes]:
    """The arg ``key`` + milliseconds (:func:`_ms_field`) per row as fields, left out where ``ns`` < 0
    (not measured: most tasks' ready time in a run of tiny tasks): no field when no row
    knows it; when few do, their text is added to ``sparse`` (row -> bytes) instead, so the others
    carry no padding for it; else a field left out (spaces) where unknown. The previous writer
    (51ed5e0) wrote ``null``: 16 bytes a task in a run without per-task ready times."""
    known = ns >= 0
    count = int(np.count_nonzero(known))
    if count == len(ns):
        return [key, _ms_field(ns)]
    if count <= len(ns) * SPARSE_SHARE:
        rows = np.flatnonzero(known)
        texts = join_fields([key, _ms_field(ns[rows]), b"\n"], len(rows)).split(b"\n")
        for row, text in zip(rows.tolist(), texts, strict=False):
            sparse[row] = sparse.get(row, b"") + text
        return []
    return [optional_field([key, _ms_field(np.where(known, ns, 0))], known)]


def _ms_field(ns: np.ndarray) -> Field:
    """``f"{ns / 1e6:.3f}"`` (milliseconds, three decimals) of ``ns`` >= 0.

    Integer rounding of the nanoseconds gives the same digits as formatting the float, except at
    an exact half (500 ns past a microsecond), where the float's binary value decides: those few
    are formatted by Python itself."""
    micros, rest = np.divmod(ns, 1000)
    up = rest > 500
    for i in np.flatnonzero(rest == 500).tolist():
        up[i] = int(f"{int(ns[i]) / 1e6:.3f}".replace(".", "")) > micros[i]
    return fixed_field(micros + up, 3)


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


def queue_spans(tl: Timeline, layout: TrackLayout, trace_end: int) -> Iterator[bytes | memoryview]:
    """Async ``b``/``e`` per Pool chunk of submitted tasks, from its first submission to the moment its
    first task left the queue (started; else ended; else the trace end): blocks of event lines with
    the same text as ``_BEGIN`` (a chunk of one task) or ``_BEGIN_CHUNK``, and ``_END``, formatted from
    whole columns. A Pool queues chunks, not tasks: a task waits behind its chunk-mates on its worker
    (the bars before it), and its own wait is its slice's ``queued_ms``; one span per task made 2 of
    every 3 events of a chunked run and ~45% of a 1M-task trace's bytes."""
    ids = np.flatnonzero(tl.submitted_ns >= 0)
    if not len(ids):
        return
    sub, start, end = tl.submitted_ns[ids], tl.start_ns[ids], tl.end_ns[ids]
    left = np.maximum(np.where(start >= 0, start, np.where(end >= 0, end, trace_end)), sub)
    chunk = tl.chunk[ids].astype(np.int64)
    if not (chunk[1:] >= chunk[:-1]).all():  # (submitted out of id order: shortest first, ...)
        order = np.argsort(chunk, kind="stable")
        ids, sub, left, chunk = ids[order], sub[order], left[order], chunk[order]
    first = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]])
    size = np.diff(np.r_[first, len(chunk)])
    if len(first) < len(chunk):
        sub, left = np.minimum.reduceat(sub, first), np.minimum.reduceat(left, first)
    ids, chunk = ids[first], chunk[first]
    pid, tid, t0 = layout.parent_pid, layout.queue_tid, tl.t0_ns
    track = f'","pid":{pid},"tid":{tid},"ts":'.encode()

    def rows(sel: np.ndarray, args: list[Field | bytes]) -> bytes | memoryview:
        hex_id = hex_field(chunk[sel])
        return join_json([b'{"ph":"b","cat":"queue","name":"queued","id":"0x', hex_id, track,
                          fixed_field(sub[sel] - t0, 3), *args, b"}},\n",
                          b'{"ph":"e","cat":"queue","name":"queued","id":"0x', hex_id, track,
                          fixed_field(left[sel] - t0, 3), b"},\n"], len(sel), trim=2)

    def block(sl: slice) -> bytes | memoryview:
        """The events of one run of chunks (on a formatting thread); ids of one width in a block."""
        one = np.arange(sl.start, sl.stop)[size[sl] == 1]
        many = np.arange(sl.start, sl.stop)[size[sl] > 1]
        parts = []
        if len(one):
            parts.append(rows(one, [b',"args":{"task":', int_field(ids[one])]))
        if len(many):
            parts.append(rows(many, [b',"args":{"chunk":', int_field(chunk[many]),
                                     b',"tasks":', int_field(size[many])]))
        return parts[0] if len(parts) == 1 else b",\n".join(parts)

    yield from ordered_map(block, _even_chunks(chunk))


def _state_rows(tl: Timeline, layout: TrackLayout, trace_end: int) -> tuple[np.ndarray, ...]:
    """Lane, state, start, end of every state slice: the sampled intervals, then NEW (created ->
    ready) and TERMINATED (exit -> trace end) from each lane's lifecycle, clipped per lane.
    Also returns, per row, the index of its interval (-1 for lifecycle rows)."""
    iv = tl.intervals.data
    life = []
    for info in layout.lanes:
        if 0 <= info.created_ns <= info.ready_ns:
            life.append((info.index, WorkerState.NEW, info.created_ns, info.ready_ns))
        if info.exit_ns >= 0:
            life.append((info.index, WorkerState.TERMINATED, info.exit_ns, max(trace_end, info.exit_ns)))
    extra = np.array(life, dtype=np.int64).reshape(-1, 4)
    lanes = np.concatenate([iv["lane"].astype(np.int64), extra[:, 0]])
    states = np.concatenate([iv["state"].astype(np.int64), extra[:, 1]])
    start, end = clip_overlaps(lanes, np.concatenate([iv["start_ns"], extra[:, 2]]),
                               np.concatenate([iv["end_ns"], extra[:, 3]]))
    source = np.r_[np.arange(len(iv)), np.full(len(extra), -1)]
    return lanes, states, start, end, source


def state_slices(tl: Timeline, layout: TrackLayout, trace_end: int) -> Iterator[list[str]]:
    """``X`` per OS-state slice on each lane's state track (see _state_rows), in chunks."""
    lanes, states, start, end, source = _state_rows(tl, layout, trace_end)
    iv = tl.intervals.data
    # One zero row appended so lifecycle rows (source -1) index something; their args differ anyway.
    cpu_of, ready_of = np.r_[iv["cpu_ns"], 0], np.r_[iv["ready_ns"], 0]
    wall_of = np.r_[iv["end_ns"] - iv["start_ns"], 0]  # the measured window, before any clipping
    pids = [info.pid for info in layout.lanes]
    t0 = tl.t0_ns
    for sl in _chunks(len(lanes)):
        cpu, ready = cpu_of[source[sl]], ready_of[source[sl]]
        blocked = np.maximum(wall_of[source[sl]] - cpu - ready, 0)
        out = []
        for ln, st, ts, dur, src, c, r, b in zip(
                lanes[sl].tolist(), states[sl].tolist(), _us(start[sl], t0), ((end[sl] - start[sl]) / 1000.0).tolist(),
                source[sl].tolist(), (cpu / 1e6).tolist(), (ready / 1e6).tolist(), (blocked / 1e6).tolist(),
                strict=True):
            args = f'"cpu_ms":{c:.3f},"ready_ms":{r:.3f},"blocked_ms":{b:.3f}' if src >= 0 else \
                _lifecycle_args(layout.lanes[ln], st)
            out.append(_X_STATE % (WORKER_STATE_NAMES[st], pids[ln], layout.state_tid(ln), ts, dur, args,
                                   _STATE_CNAME[WorkerState(st)]))
        yield out


def _lifecycle_args(info: LaneInfo, state: int) -> str:
    if state == WorkerState.NEW:
        return '"from":"created","to":"ready"'
    code = "null" if info.exit_code is None else str(int(info.exit_code))
    return f'"exit_code":{code},"reason":{encode_str(info.exit_reason)}'


def state_lanes(tl: Timeline, layout: TrackLayout) -> set[int]:
    """Lanes that get a state track."""
    lanes = set(np.unique(tl.intervals.data["lane"]).tolist())
    lanes.update(i.index for i in layout.lanes if 0 <= i.created_ns <= i.ready_ns or i.exit_ns >= 0)
    return lanes


def wait_spans(tl: Timeline, layout: TrackLayout) -> Iterator[list[str]]:
    """``X`` per wait / callback span on each lane's waits track, in chunks."""
    sp = tl.spans.data
    lanes = sp["lane"].astype(np.int64)
    start, end = clip_overlaps(lanes, sp["start_ns"], sp["end_ns"])
    labels = [encode_str(label) for label in tl.span_labels]
    t0 = tl.t0_ns
    for sl in _chunks(len(lanes)):
        out = []
        for ln, label, ts, dur in zip(lanes[sl].tolist(), sp["label"][sl].tolist(), _us(start[sl], t0),
                                      ((end[sl] - start[sl]) / 1000.0).tolist(), strict=True):
            info = layout.lanes[ln]
            cat = "callback" if info.kind == "parent" else "wait"
            name = labels[label] if 0 <= label < len(labels) else '"?"'
            out.append(_X_SPAN % (cat, name, info.pid, layout.span_tid(ln), ts, dur, ln))
        yield out


def span_lanes(tl: Timeline) -> set[int]:
    """Lanes that get a waits track."""
    return set(np.unique(tl.spans.data["lane"]).tolist())


def flight_counter(tl: Timeline, layout: TrackLayout, trace_end: int) -> list[str]:
    """``C`` events: tasks queued and tasks running over time, on the parent's process."""
    sub, start, end = tl.submitted_ns, tl.start_ns, tl.end_ns
    terminal = tl.state >= TaskState.DONE
    queued = sub >= 0
    left_queue = queued & ((start >= 0) | terminal)
    left_at = np.maximum(np.where(start >= 0, start, np.where(end >= 0, end, trace_end)), sub)
    running = start >= 0
    stopped = running & (end >= 0)
    if not queued.any() and not running.any():
        return []
    # (the list is the parts' only reference: _sorted_changes frees them once they are in its keys)
    times, change = _sorted_changes([sub[queued], left_at[left_queue], start[running], end[stopped]])
    del left_at, queued, left_queue, running, stopped, terminal
    # +1/-1 steps of each series by change kind (queued, left the queue, started, stopped); counts
    # fit in 32 bits (at most 2**31 tasks).
    last = np.empty(len(times), dtype=bool)  # the value after all changes at one instant
    np.not_equal(times[1:], times[:-1], out=last[:-1])
    last[-1] = True
    q = np.cumsum(np.array([1, -1, 0, 0], dtype=np.int8)[change], dtype=np.int32)[last]
    r = np.cumsum(np.array([0, 0, 1, -1], dtype=np.int8)[change], dtype=np.int32)[last]
    times = times[last]
    if len(times) > 2 * MAX_FLIGHT_BINS:
        times, q, r = _bin_peaks(times, q, r)
    pid, tid, t0 = layout.parent_pid, layout.queue_tid, tl.t0_ns
    return [_FLIGHT % (pid, tid, ts, a, b) for ts, a, b in zip(_us(times, t0), q.tolist(), r.tolist(), strict=True)]


def _sorted_changes(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The times of ``parts`` (``parts[k]``: the changes of kind k) sorted, and each one's kind;
    ``parts`` is emptied.

    The kind rides in the two low bits of one int64 key, written part by part into the key array
    (no concatenated copy of the times, no int64 array of kinds: ~64 MB less at 1M tasks), so one
    sort of plain integers does it (several times faster than an argsort and two gathers). Changes
    at the same instant may come in any order: the counter keeps only the value after all of them."""
    full = [p for p in parts if len(p)]
    low, high = min(int(p.min()) for p in full), max(int(p.max()) for p in full)
    if high - low >= 1 << 61:  # (no room for the kind: never for nanosecond clocks)
        times = np.concatenate(parts)
        kinds = np.repeat(np.arange(len(parts), dtype=np.int8), [len(p) for p in parts])
        order = np.argsort(times, kind="stable")
        return times[order], kinds[order]
    key = np.empty(sum(len(p) for p in parts), dtype=np.int64)
    at = 0
    for kind, times in enumerate(parts):
        seg = key[at:at + len(times)]
        np.subtract(times, low, out=seg)
        seg <<= 2
        seg |= kind
        at += len(times)
    del times
    parts.clear()  # (the caller's list of temporaries: freed before the sort, ~32 MB at 1M tasks)
    key.sort(kind="stable")  # (blocks of nearly sorted runs: a merge)
    kinds = (key & 3).astype(np.int8)
    key >>= 2
    key += low
    return key, kinds


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


_MACHINE = ('{"ph":"C","name":"machine CPUs %%","pid":%d,"tid":%d,"ts":%.3f,'
            '"args":{"own":%.1f,"other":%.1f}}')


def machine_counters(tl: Timeline, layout: TrackLayout) -> list[str]:
    """``C`` events: the machine lane (the run's CPUs busy, own and other programs, in %), on the
    parent's process, stacked by Perfetto as one counter track."""
    rows = tl.machine.data
    if not len(rows):
        return []
    own = np.clip(rows["own"].astype(np.float64), 0, 1) * 100
    other = np.maximum(rows["busy"].astype(np.float64) * 100 - own, 0)
    pid, tid = layout.parent_pid, layout.queue_tid
    out = [_MACHINE % (pid, tid, ts, o, x) for ts, o, x in zip(_us(rows["start_ns"], tl.t0_ns), own.tolist(),
                                                                 other.tolist(), strict=True)]
    out.append(_MACHINE % (pid, tid, _us(rows["end_ns"][-1:], tl.t0_ns)[0], 0.0, 0.0))
    return out
