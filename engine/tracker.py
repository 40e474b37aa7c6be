"""The engine thread's bookkeeping: worker batches in, lanes and task states kept, batches out.

Only the engine thread calls a :class:`RunTracker`. It writes the engine's own Timeline directly
(vectorised numpy writes, no Python object per event) and accumulates the same changes for the
next :class:`EngineBatch` handed to the consumer.

Failure is data here: a worker that dies takes its running task with it (FAILED, the reason
naming the exit code or signal), and the rest of that task's Pool chunk, which the dead worker
had already taken, is marked lost, since the Pool will never run it again.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import replace

import numpy as np

from procviz.engine.events import (
    END_DTYPE,
    SPAN_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    WIRE_EVENT_DTYPE,
    EngineBatch,
    EventKind,
    LaneInfo,
    LaneKind,
    RunInfo,
    RunPhase,
    RunStatus,
    Submitted,
    TaskState,
    TaskText,
    WorkerBatch,
    WorkerExit,
    concat_rows,
    describe_exit,
)
from procviz.engine.sampler import StateSampler
from procviz.engine.timeline import Timeline

SUBMIT_ROWS = 1 << 17  # submission rows per batch (2 MB)
SETTLE_BYTES = 512 * 1024  # worker rows folded in per step (~11k rows, a few datagrams)
# Plain ints for comparisons with numpy columns: an IntEnum scalar makes numpy compare through
# int64 (7x slower per element, and an 8-byte temporary per element in some ufuncs).
_DONE = int(TaskState.DONE)
_RUNNING = int(TaskState.RUNNING)
_START = int(EventKind.START)
_SPAN = int(EventKind.SPAN)


class RunTracker:
    """Engine-side state of one run; see the module docstring."""

    def __init__(self, run: RunInfo, sampler: StateSampler, task_rows: bool = True) -> None:
        # Whether the batches carry task rows (submitted, started, ended): a consumer that only
        # follows the run's status and counts nothing (``procviz run --quiet``) needs none, and
        # making them is most of the engine's CPU per event after its own Timeline's writes.
        # (Set before the first submission: the runner sets it on the tracker it is given.)
        self.task_rows = task_rows
        self.timeline = Timeline()
        self.timeline.apply(EngineBatch(run=run), notify=False)
        self.sampler = sampler
        self.lane_by_thread: dict[tuple[int, int], int] = {}
        self.running: dict[int, int] = {}  # lane -> task id
        self.last_seq: dict[int, int] = {}
        self.lost_batches = 0
        self.hello_pids: set[int] = set()
        self.exited_pids: set[int] = set()  # exits handled (the kernel's report, then the backend's)
        self.unannounced_exits = 0
        self.last_progress_ns = run.t0_ns
        self.abnormal_deaths = 0
        self.last_hello_ns = run.t0_ns
        self.abandoned_out: list[np.ndarray] = []  # ids the engine ended itself, for the backend
        self._label_index: dict[str, int] = {}
        self._pending_rows: list[bytes] = []
        self._pending_pids: list[tuple[int, int]] = []
        self._pending_texts: list[TaskText] = []
        self._rows_in_ns = 0  # when the rows not yet folded in were received
        self.unsettled_bytes = 0  # their size
        self._unsent_submitted: deque[tuple[np.ndarray, int | np.ndarray]] = deque()  # (ids, t_ns) not yet in a batch
        self._ended = 0  # rows of ends written (at least the tasks ended: see all_finished)
        self._run = run
        self._reset_out()
        self._out_run: RunInfo | None = run

    def _reset_out(self) -> None:
        self._out_run = None
        self._out_lanes: dict[int, LaneInfo] = {}
        self._out_submitted: list[np.ndarray] = []
        self._out_started: list[np.ndarray] = []
        self._out_ended: list[np.ndarray] = []
        self._out_spans: list[tuple[int, int, int, int]] = []  # one by one (wait spans)
        self._out_span_rows: list[np.ndarray] = []  # SPAN_DTYPE rows made in bulk (callbacks)
        self._out_labels: list[str] = []
        self._out_texts: list[TaskText] = []
        self._out_shared_texts: list[tuple[np.ndarray, TaskText]] = []
        self._out_starts_in_ends = 0

    # ---- lanes ----------------------------------------------------------------------------------

    def _apply(self, batch: EngineBatch) -> None:
        """The tracker's one way to change its Timeline: a batch, as any consumer applies it."""
        self.timeline.apply(batch, notify=False)

    def set_lane(self, info: LaneInfo) -> None:
        """Add or replace a lane, in the timeline and in the next batch.

        A lane whose last window the sampler closed (on the kernel's report of the exit, its own
        observation, or the run's end) exits exactly there: its strip and terminated part meet.
        """
        if info.exit_ns >= 0:
            ended = self.sampler.end_time(info.pid, info.tid)
            if ended is not None:
                info = replace(info, exit_ns=ended)
        self._apply(EngineBatch(lanes=(info,)))
        self._out_lanes[info.index] = info

    def new_lane(self, pid: int, tid: int, kind: LaneKind, name: str, created_ns: int = -1, ready_ns: int = -1) -> int:
        """Open a lane for a worker thread; returns its index."""
        index = len(self.timeline.lanes)
        self.set_lane(LaneInfo(index=index, pid=pid, tid=tid, kind=kind, name=name or f"worker {index}",
                               created_ns=created_ns, ready_ns=ready_ns))
        self.lane_by_thread[(pid, tid)] = index
        return index

    def lane_for(self, pid: int, tid: int, now_ns: int = -1) -> int:
        """The lane of a worker thread, opened on first sight if its hello went missing (then
        sampled from ``now_ns``, its ready time as far as the engine can tell)."""
        lane = self.lane_by_thread.get((pid, tid))
        if lane is None:
            kind = LaneKind.PROCESS if pid == tid else LaneKind.THREAD
            lane = self.new_lane(pid, tid, kind, "", ready_ns=now_ns)
            if now_ns >= 0:
                self.sampler.add(lane, pid, tid, now_ns)
        return lane

    # ---- inputs ---------------------------------------------------------------------------------

    def on_submitted(self, sub: Submitted) -> None:
        """Tasks handed to the backend: queued in the timeline now, handed on by the next cuts
        (SUBMIT_ROWS at a time: a million submitted at once never become one 16 MB batch)."""
        ids = np.asarray(sub.task_ids, dtype=np.int64)
        self.timeline.mark_submitted(ids, sub.t_ns)
        if self.task_rows:
            self._unsent_submitted.append((ids, sub.t_ns))

    def on_submissions(self, subs: list[Submitted]) -> None:
        """Several submissions at once, taken in as one: ``apply_async`` and ``submit`` hand tasks
        over one by one (200k of them took the engine ~4 s, one at a time, and held up a Stop)."""
        if len(subs) <= 1:
            for sub in subs:
                self.on_submitted(sub)
            return
        ids = np.concatenate([np.asarray(sub.task_ids, dtype=np.int64) for sub in subs])
        t_ns = np.concatenate([np.broadcast_to(np.asarray(sub.t_ns, dtype=np.int64), (len(sub.task_ids),))
                               for sub in subs])
        self.timeline.mark_submitted(ids, t_ns)
        if self.task_rows:
            self._unsent_submitted.append((ids, t_ns))

    def _take_submitted(self, everything: bool) -> None:
        """Move up to SUBMIT_ROWS unsent submissions (all of them when ``everything``) into the
        next batch."""
        room = None if everything else SUBMIT_ROWS
        while self._unsent_submitted and (room is None or room > 0):
            ids, t_ns = self._unsent_submitted[0]  # t_ns: one time, or each task's (on_submissions)
            take = ids if room is None else ids[:room]
            rows = np.empty(len(take), SUBMIT_DTYPE)
            rows["task_id"], rows["t_ns"] = take, t_ns[:len(take)] if isinstance(t_ns, np.ndarray) else t_ns
            self._out_submitted.append(rows)
            if len(take) == len(ids):
                self._unsent_submitted.popleft()
            else:
                rest = t_ns[len(take):] if isinstance(t_ns, np.ndarray) else t_ns
                self._unsent_submitted[0] = (ids[len(take):], rest)
            if room is not None:
                room -= len(take)

    def on_worker_batch(self, b: WorkerBatch, now_ns: int) -> None:
        """Take one worker datagram in. Its rows wait for :meth:`settle`, which handles every
        datagram of a drain in one vectorised pass (the per-datagram cost is what limits the
        parent's CPU per event)."""
        last = self.last_seq.get(b.pid)
        if last is not None and b.seq > last + 1:
            self.lost_batches += b.seq - last - 1
        self.last_seq[b.pid] = max(b.seq, last or 0)
        if b.hello is not None:
            h = b.hello
            self.hello_pids.add(h.pid)
            self.last_hello_ns = now_ns
            if h.kind == LaneKind.PROCESS:  # kernel start times come in 10 ms steps: never before the run
                h = h.replace(created_ns=max(h.created_ns, self._run.t0_ns))  # a wire record: no dataclass
            key = (h.pid, h.tid)
            if key in self.lane_by_thread:
                lane = self.lane_by_thread[key]
                self.set_lane(replace(self.timeline.lanes[lane], created_ns=h.created_ns, ready_ns=h.ready_ns))
            else:
                lane = self.new_lane(h.pid, h.tid, h.kind, h.name, h.created_ns, h.ready_ns)
            baseline = (getattr(h, "cpu_ns", -1), getattr(h, "wait_ns", -1))
            self.sampler.add(lane, h.pid, h.tid, h.ready_ns, baseline if baseline[0] >= 0 else None)
        if b.final is not None:
            self.sampler.final_reading(b.pid, *b.final)
        if b.rows:
            if not self._pending_rows:
                self._rows_in_ns = now_ns
            self._pending_rows.append(b.rows)
            self.unsettled_bytes += len(b.rows)
            self._pending_pids.append((b.pid, len(b.rows) // WIRE_EVENT_DTYPE.itemsize))
        if b.texts:
            self._pending_texts.extend(b.texts)
        for w in b.waits:
            self.span(self.lane_for(b.pid, w.tid, now_ns), w.start_ns, w.end_ns, w.what)

    def on_rows_read(self, pid: int, rows: bytes, now_ns: int) -> None:
        """Wire rows of worker ``pid`` read from its shared memory (its task slot and ring, see
        engine/recovery.py), not received: folded in as received ones are; the same rows when they
        do arrive find their tasks ended, and are dropped."""
        if not self._pending_rows:
            self._rows_in_ns = now_ns
        self._pending_rows.append(rows)
        self.unsettled_bytes += len(rows)
        self._pending_pids.append((pid, len(rows) // WIRE_EVENT_DTYPE.itemsize))

    @property
    def unsettled(self) -> bool:
        """Whether rows or texts received wait to be folded in (:meth:`settle`)."""
        return bool(self._pending_rows or self._pending_texts)

    def settle(self, now_ns: int) -> None:
        """Fold in every row received since the last call (call before handling worker exits;
        :meth:`end_tasks` does it first: the engine ends tasks on what the workers said)."""
        pending, pids = self._pending_rows, self._pending_pids
        self.unsettled_bytes = 0
        while pending:
            # At most SETTLE_BYTES of rows at a time (a usual drain is one step): the temporaries
            # of a backlog's drain stay bounded, not three times the backlog.
            take, size = 1, len(pending[0])
            while take < len(pending) and size + len(pending[take]) <= SETTLE_BYTES:
                size += len(pending[take])
                take += 1
            rows = np.frombuffer(pending[0] if take == 1 else b"".join(pending[:take]), dtype=WIRE_EVENT_DTYPE)
            segments = pids[:take]  # (pid, rows) per datagram, in arrival order
            del pending[:take], pids[:take]
            self._on_rows(segments, rows, now_ns)
        if self._pending_texts:
            state = self.timeline.state
            keep = []
            for text in self._pending_texts:
                known = 0 <= text.task_id < len(state)
                wanted = TaskState.DONE if text.kind == "result" else TaskState.FAILED
                if known and state[text.task_id] == wanted:
                    keep.append(text)
            self._texts(keep)
            self._pending_texts.clear()

    def _on_rows(self, segments: list[tuple[int, int]], rows: np.ndarray, now_ns: int) -> None:
        """Fold a drain's rows into the timeline and the next batch, in a few vectorised steps.

        Per row this is the parent's CPU per event, so it is written for numpy's fast paths:
        integer takes rather than boolean masks of the 48-byte rows (2-3x faster), and a task that
        started and ended within the drain leaves as one END row carrying its start (a consumer
        writes the same columns from it; :attr:`EngineBatch.starts_in_ends` counts its START).
        """
        tl = self.timeline
        ids = rows["task_id"]
        if not len(ids):
            return
        # Ids out of range are garbage; events for tasks the engine already ended (timeout,
        # cancel, lost) are late: drop both. The usual case (all in range) costs two reductions.
        if int(ids.min()) >= 0 and int(ids.max()) < tl.n_tasks:
            keep = tl.state[ids] < _DONE
        else:
            keep = (ids >= 0) & (ids < tl.n_tasks)
            keep[keep] = tl.state[ids[keep]] < _DONE
        lanes = self._lanes_of(segments, rows, keep, now_ns)
        if not keep.all():
            rows, ids, lanes = rows[keep], ids[keep], lanes[keep]
            if not len(rows):
                return
        self.last_progress_ns = now_ns
        kinds = rows["kind"]
        # Each lane's last row (rows of a lane come in runs, one per datagram): the ends of runs.
        run_ends = np.flatnonzero(lanes[1:] != lanes[:-1]).tolist() + [len(lanes) - 1]
        last = dict(zip(lanes[run_ends].tolist(), run_ends, strict=True))  # later runs overwrite
        for lane, at in last.items():  # a lane (one thread) runs one task at a time
            if kinds[at] == _START:
                self.running[lane] = int(ids[at])
            else:  # its last event ends a task: whichever it was running has ended
                self.running.pop(lane, None)
        is_start = kinds == _START
        at_start = np.flatnonzero(is_start)
        started = ids[at_start]
        if len(started):
            tl.write_starts(started, lanes[at_start], rows["t_ns"][at_start])
        if len(at_start) < len(rows):
            at_end = np.flatnonzero(~is_start)  # END rows and SPAN rows (a whole task in one row)
            ended, end_lanes, states = ids[at_end], lanes[at_end], rows["status"][at_end]
            end_ns, cpu_ns, ready_ns = rows["t_ns"][at_end], rows["cpu_ns"][at_end], rows["ready_ns"][at_end]
            start_ns = self._span_starts(rows, at_end, ended)
            cpu_ns, ready_ns = _clamp(start_ns, end_ns, cpu_ns, ready_ns)
            tl.write_ends(ended, states, end_ns, cpu_ns, ready_ns, end_lanes, start_ns)
            self._ended += len(ended)
            if self.task_rows:
                e = np.empty(len(ended), END_DTYPE)
                e["task_id"], e["lane"], e["state"] = ended, end_lanes, states
                e["start_ns"] = tl.start_ns[ended]  # as started (now or before); -1 if its START was lost
                e["end_ns"], e["cpu_ns"], e["ready_ns"] = end_ns, cpu_ns, ready_ns
                self._out_ended.append(e)
            if len(started):  # tasks that also ended in this drain travel as their END row alone
                open_ = np.flatnonzero(tl.state[started] < _DONE)
                self._out_starts_in_ends += len(started) - len(open_)
                at_start = at_start[open_]
        if self.task_rows and len(at_start):
            s = np.empty(len(at_start), START_DTYPE)
            s["task_id"], s["lane"], s["t_ns"] = ids[at_start], lanes[at_start], rows["t_ns"][at_start]
            self._out_started.append(s)

    def _span_starts(self, rows: np.ndarray, at_end: np.ndarray, ended: np.ndarray) -> np.ndarray:
        """The start of each ending task: a SPAN row's own, else the one its START row gave (-1
        if lost). Counts the STARTs that travelled only inside SPAN rows (see starts_in_ends)."""
        kinds, spare = rows["kind"][at_end], rows["spare"][at_end]
        spans = kinds == _SPAN
        if spans.all():
            start_ns = spare
        else:
            start_ns = np.where(spans, spare, self.timeline.start_ns[ended])
        # For a consumer that counts task rows only; a task with a START row (now or before) is
        # RUNNING already: counted there.
        if self.task_rows and spans.any():
            self._out_starts_in_ends += int(np.count_nonzero(self.timeline.state[ended[spans]] < _RUNNING))
        return start_ns

    def _lanes_of(self, segments: list[tuple[int, int]], rows: np.ndarray, keep: np.ndarray,
                  now_ns: int) -> np.ndarray:
        """The lane of each row (-1 where no row of its worker thread is kept). A lane is opened
        (lane_for) for each thread with a kept row, in (pid, tid) order."""
        tids = rows["tid"]
        counts = [n for _, n in segments]
        firsts = np.cumsum([0, *counts[:-1]])
        seg_tids = tids[firsts].tolist()
        # The usual case, checked in one step: each datagram comes from one thread (a process
        # worker's, or one thread's of a thread worker): a lane per datagram.
        if not np.array_equal(tids, np.repeat(np.array(seg_tids, tids.dtype), counts)):
            return self._lanes_by_row(segments, tids, keep, now_ns)
        kept = np.add.reduceat(keep, firsts).tolist() if not keep.all() else [1] * len(segments)
        keys = [(pid, tid) for (pid, _), tid in zip(segments, seg_tids, strict=True)]
        wanted = sorted({key for key, k in zip(keys, kept, strict=True) if k}, key=_key_order)
        lane_of = {key: self.lane_for(key[0], key[1], now_ns) for key in wanted}
        return np.repeat(np.array([lane_of.get(key, -1) for key in keys], np.int32), counts)

    def _lanes_by_row(self, segments: list[tuple[int, int]], tids: np.ndarray, keep: np.ndarray,
                      now_ns: int) -> np.ndarray:
        """:meth:`_lanes_of` for datagrams that mix threads (a thread-pool worker's)."""
        pids = np.repeat(np.array([p for p, _ in segments], np.int64), [n for _, n in segments])
        all_keys = (pids << 32) | tids.astype(np.int64)
        lanes = np.full(len(tids), -1, np.int32)
        uniq, inverse = np.unique(all_keys[keep], return_inverse=True)
        lane_of_key = np.array([self.lane_for(int(k >> 32), int(k & 0xFFFFFFFF), now_ns) for k in uniq], np.int32)
        lanes[keep] = lane_of_key[inverse.reshape(-1)]
        return lanes

    def _write_ends(self, e: np.ndarray) -> None:
        self.timeline.write_ended(e)  # what a consumer's apply of this batch writes
        if self.task_rows:
            self._out_ended.append(e)
        self._ended += len(e)

    def _texts(self, texts: list[TaskText]) -> None:
        if texts:
            self._apply(EngineBatch(texts=tuple(texts)))
            self._out_texts.extend(texts)

    def span(self, lane: int, start_ns: int, end_ns: int, label: str) -> None:
        """Record a wait span on a lane."""
        self._out_spans.append((lane, start_ns, end_ns, self._label(label)))

    def _label(self, label: str) -> int:
        """The index of a span label, added to the next batch's new labels on first use."""
        index = self._label_index.get(label)
        if index is None:
            index = self._label_index[label] = len(self.timeline.span_labels) + len(self._out_labels)
            self._out_labels.append(label)
        return index

    def on_callbacks(self, rows: np.ndarray, labels: tuple[str, ...]) -> None:
        """Completion callbacks that ran on parent threads (rows of CALLBACK_DTYPE, their ``label``
        an index into ``labels``): drawn on the parent's lanes, one per thread, in one go."""
        if not len(rows):
            return
        pid = os.getpid()
        lanes = np.empty(len(rows), dtype=np.int32)
        for tid in np.unique(rows["tid"]).tolist():
            lane = self.lane_by_thread.get((pid, tid))
            if lane is None:
                lane = self.new_lane(pid, tid, LaneKind.PARENT, "parent · callbacks")
            lanes[rows["tid"] == tid] = lane
        spans = np.empty(len(rows), dtype=SPAN_DTYPE)
        spans["lane"] = lanes
        spans["start_ns"] = rows["start_ns"]
        spans["end_ns"] = np.maximum(rows["end_ns"], rows["start_ns"] + 1)  # a bar, however short
        spans["label"] = np.array([self._label(text) for text in labels], dtype=np.int32)[rows["label"]]
        self._out_span_rows.append(spans)

    # ---- engine decisions -----------------------------------------------------------------------

    def end_tasks(self, task_ids: np.ndarray, state: TaskState, now_ns: int, reason_type: str, reason: str) -> None:
        """End tasks by the engine's decision (timeout, death, lost, cancel), with a reason each.
        Rows received and not yet folded in are folded first: a task they end is not ended again."""
        if self.unsettled:
            self.settle(now_ns)
        tl = self.timeline
        task_ids = task_ids[tl.state[task_ids] < _DONE]
        if not len(task_ids):
            return
        e = np.empty(len(task_ids), END_DTYPE)
        e["task_id"] = task_ids
        e["lane"] = tl.lane[task_ids]
        e["state"] = state
        e["start_ns"] = tl.start_ns[task_ids]
        # Ended now, started or not: a task that never started left the queue now (the ready
        # queue's line drops here; it stayed up to the run's end when this said -1).
        e["end_ns"] = now_ns
        e["cpu_ns"] = -1
        e["ready_ns"] = -1
        self._write_ends(e)
        self.abandoned_out.append(task_ids)
        for lane, task in list(self.running.items()):
            if tl.state[task] >= TaskState.DONE:
                del self.running[lane]
        self.share_text(task_ids, TaskText(-1, "error", reason_type, reason))  # one text for them all

    def share_text(self, task_ids: np.ndarray, text: TaskText) -> None:
        """Give ``task_ids`` one text, here and in what the consumers get next."""
        shared = (task_ids, text)
        self._apply(EngineBatch(shared_texts=(shared,)))
        self._out_shared_texts.append(shared)

    def kernel_exits(self) -> list[WorkerExit]:
        """Exits the kernel reported since the last call (call before the worker datagrams are
        read, like the backend's exits: a process seen dead has sent everything it will).

        A worker thread that ended closes its lane here. A process whose exit code the kernel
        told is returned as a WorkerExit for :meth:`on_exit`; the backend's later report of the
        same exit is then a no-op. Without a code (not our child), the backend's report ends the
        lane, at the kernel's time (see :meth:`set_lane`).
        """
        out = []
        for k in self.sampler.kernel_exits():
            if k.tid != k.pid:
                # (the mapping stays: the thread's last datagrams may still be on their way)
                lane = self.lane_by_thread.get((k.pid, k.tid))
                if lane is not None and self.timeline.lanes[lane].exit_ns < 0:
                    info = self.timeline.lanes[lane]
                    self.set_lane(replace(info, exit_ns=k.t_ns, exit_reason="thread ended"))
            elif k.exit_code is not None:
                out.append(WorkerExit(k.pid, k.exit_code, k.t_ns))
        return out

    def on_exit(self, ex: WorkerExit) -> None:
        """A worker process exited: close its lanes; its running task and chunk fail with it.

        The time is the kernel's when the sampler heard it first (its running task ends then).
        """
        lanes = [(key, lane) for key, lane in self.lane_by_thread.items()
                 if key[0] == ex.pid and self.timeline.lanes[lane].exit_ns < 0]
        if ex.pid in self.exited_pids and not lanes:
            return  # the same exit again: the kernel's report came first, now the backend's
        self.exited_pids.add(ex.pid)
        if ex.pid not in self.hello_pids:
            self.unannounced_exits += 1
        kernel_ns = self.sampler.end_time(ex.pid, ex.pid)
        seen = self.sampler.take_gone_by(ex.pid) if kernel_ns is None else None
        t_ns = kernel_ns if kernel_ns is not None else min(seen, ex.t_ns) if seen is not None else ex.t_ns
        how = describe_exit(ex.exit_code)
        tl = self.timeline
        for key, lane in lanes:
            info = tl.lanes[lane]
            if seen is not None:  # a bound read by a sampler thread: never before what the lane itself said
                on_lane = tl.lane == lane
                t_ns = max(t_ns, info.ready_ns, int(tl.end_ns.max(where=on_lane, initial=-1)))
            self.sampler.remove(lane, t_ns)
            self.set_lane(replace(info, exit_ns=t_ns, exit_code=ex.exit_code,
                                  exit_reason=how if ex.exit_code != 0 else "exited normally"))
            del self.lane_by_thread[key]
            task = self.running.pop(lane, None)
            if task is not None and tl.state[task] < TaskState.DONE:
                self.end_tasks(np.array([task]), TaskState.FAILED, t_ns, "WorkerDied",
                               ex.reason or f"worker pid {ex.pid} {how} while running this task")
                self.lose_chunk(task, ex.pid, how, t_ns)
        if ex.exit_code != 0:
            self.abnormal_deaths += 1

    def lose_chunk(self, task: int, pid: int, how: str, now_ns: int) -> None:
        """The rest of ``task``'s Pool chunk will never run: its worker took it and is gone.
        ``how``: how it went, as :func:`~procviz.engine.events.describe_exit` says it ("killed by
        SIGKILL", "exited with code 3")."""
        tl = self.timeline
        chunk = tl.chunk[task]
        lost = np.flatnonzero((tl.chunk == chunk) & (tl.state < TaskState.RUNNING))
        self.end_tasks(lost, TaskState.FAILED, now_ns, "LostWithWorker",
                       f"never ran: its chunk {chunk} went down with worker pid {pid}, {how}")

    def take_abandoned(self) -> np.ndarray:
        """Ids of the tasks the engine ended itself since the last call (their results never come)."""
        ids = np.concatenate(self.abandoned_out) if self.abandoned_out else np.zeros(0, np.int64)
        self.abandoned_out.clear()
        return ids

    def live_workers(self) -> int:
        """Announced worker lanes that have not exited. A thread lane counts while the engine's
        process lives, even once its thread ended: the stall rule (runner) asks whether work can
        still be taken, and a thread's end is not a death that loses work."""
        return sum(1 for info in self.timeline.lanes
                   if info.kind != LaneKind.PARENT and (info.exit_ns < 0 or info.kind == LaneKind.THREAD))

    def quiet_since_ns(self) -> int:
        """The last time anything moved: a task event or a worker announcing itself (rows not yet
        folded in count from when they came)."""
        pending = self._rows_in_ns if self._pending_rows else 0
        return max(self.last_progress_ns, self.last_hello_ns, pending)

    def unfinished(self) -> np.ndarray:
        """Ids of tasks not yet in a terminal state."""
        return np.flatnonzero(self.timeline.state < _DONE)

    def all_finished(self) -> bool:
        """Whether every task reached a terminal state."""
        # Every task ends through _write_ends, which counts its rows: until that count reaches the
        # task count some task is certainly open, and the scan (1 MB at a million) is skipped.
        if self._ended < self.timeline.n_tasks:
            return False
        return bool(self.timeline.state.min(initial=_DONE) >= _DONE)

    # ---- output ---------------------------------------------------------------------------------

    def cut(self, now_ns: int, status: RunStatus | None = None) -> EngineBatch | None:
        """The batch of everything changed since the last cut (None when nothing did).

        Samples the lanes if a sampling period has passed (so lanes are sampled during shutdown
        too); with a FINISHED status, the sampler's last read of every lane ends its windows.
        """
        self.sampler.sample_if_due(now_ns)
        finished = status is not None and status.phase == RunPhase.FINISHED
        if finished:
            self.sampler.close_all(now_ns)
        self._take_submitted(everything=finished)
        intervals, resources = self.sampler.take()
        machine = self.sampler.take_machine()
        if self._out_spans:
            self._out_span_rows.append(np.array(self._out_spans, dtype=SPAN_DTYPE))
        spans = concat_rows(self._out_span_rows, SPAN_DTYPE)
        parts = (self._out_submitted, self._out_started, self._out_ended)
        if not (any(parts) or self._out_lanes or self._out_texts or self._out_shared_texts or len(intervals)
                or len(resources) or len(spans) or len(machine) or status or self._out_run or self._out_labels):
            self.timeline.now_ns = max(self.timeline.now_ns, now_ns)  # what applying EngineBatch(now_ns) does
            return None
        batch = EngineBatch(
            run=self._out_run,
            lanes=tuple(self._out_lanes[i] for i in sorted(self._out_lanes)),
            submitted=concat_rows(self._out_submitted, SUBMIT_DTYPE),
            started=concat_rows(self._out_started, START_DTYPE),
            ended=concat_rows(self._out_ended, END_DTYPE),
            intervals=intervals, resources=resources, spans=spans, machine=machine,
            span_labels=tuple(self._out_labels), texts=tuple(self._out_texts),
            shared_texts=tuple(self._out_shared_texts),
            status=status, now_ns=now_ns, starts_in_ends=self._out_starts_in_ends,
        )
        # What was applied piecemeal as it came is not applied again; the rest is applied now.
        self._apply(EngineBatch(intervals=intervals, resources=resources, spans=spans, machine=machine,
                                span_labels=batch.span_labels, status=status, now_ns=now_ns))
        self._reset_out()
        return batch


def _clamp(start_ns: np.ndarray, end_ns: np.ndarray, cpu_ns: np.ndarray,
           ready_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On-CPU at most the wall time, and ready at most what is left of it (where measured).

    A worker reads the thread's CPU clock inside its monotonic window, so this changes a value
    only where the two clocks' rates differ (the monotonic clock is slewed, the CPU clock is not),
    by a few nanoseconds; a task whose start was lost keeps what it sent.
    """
    wall = end_ns - start_ns
    known = start_ns >= 0
    if known.all():
        cpu_ns = np.minimum(cpu_ns, wall)
        ready_ns = np.minimum(ready_ns, wall - cpu_ns)
    elif known.any():
        cpu_ns = np.where(known, np.minimum(cpu_ns, wall), cpu_ns)
        ready_ns = np.where(known, np.minimum(ready_ns, wall - cpu_ns), ready_ns)
    return cpu_ns, ready_ns


def _key_order(key: tuple[int, int]) -> int:
    """The order lanes are opened in: by pid, then tid (as (pid << 32) | tid sorts)."""
    return (key[0] << 32) | key[1]
