"""Where each kind of Chrome-trace event goes: the (pid, tid) tracks and their names.

* A worker lane's tasks: its own (pid, tid), named ``"worker 2 (pid 4101)"``.
* Its OS states (new, ready, running, waiting, terminated): a synthetic tid in the same pid,
  named ``"pid 4101 states"``, so they sit right under the worker in Perfetto and never share
  a track with the task slices.
* Its wait/callback spans: another synthetic tid, ``"pid 4101 waits"``.
* Time queued: async events on the parent's process, on a synthetic ``"task queue"`` thread (the
  parent's own threads may be worker lanes too, for thread pools and serial runs).

Synthetic tids (and a synthetic parent pid when the timeline has no lane in the parent) start
above every real pid/tid of the timeline and above 2**24, so they never collide with a real
thread. The parent pid is the pid of a "parent" lane, else of a thread-pool lane (threads
live in the parent), else synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from procviz.engine.events import LaneInfo
from procviz.engine.formats.jsonio import encode_str

SYNTHETIC_FLOOR = 1 << 24


@dataclass(frozen=True, slots=True)
class TrackLayout:
    """The tracks of one trace (see the module docstring)."""

    lanes: tuple[LaneInfo, ...]
    base: int  # first synthetic id
    parent_pid: int
    parent_is_synthetic: bool
    worker_tracks: tuple[tuple[int, int], ...]  # per lane: (pid, tid) of its task slices
    track_ids: tuple[int, ...]  # per lane: dense number of its worker track (lanes may share one)

    @property
    def queue_tid(self) -> int:
        """The synthetic thread of the parent that holds the queued-time async slices."""
        return self.base + 2 * len(self.lanes)

    def state_tid(self, lane: int) -> int:
        """The synthetic thread of a lane's OS-state slices."""
        return self.base + lane

    def span_tid(self, lane: int) -> int:
        """The synthetic thread of a lane's wait / callback spans."""
        return self.base + len(self.lanes) + lane

    def metadata(self, state_lanes: set[int], span_lanes: set[int]) -> list[str]:
        """``M`` events naming and ordering every process and thread that holds events."""
        procs: dict[int, list[LaneInfo]] = {}
        for lane in self.lanes:
            procs.setdefault(lane.pid, []).append(lane)
        out = []
        parent_name = "procviz parent" + ("" if self.parent_is_synthetic else f" (pid {self.parent_pid})")
        out.append(_meta("process_name", self.parent_pid, 0, "name", encode_str(parent_name)))
        out.append(_meta("process_sort_index", self.parent_pid, 0, "sort_index", "-1"))
        out.append(_meta("thread_name", self.parent_pid, self.queue_tid, "name", encode_str("task queue")))
        out.append(_meta("thread_sort_index", self.parent_pid, self.queue_tid, "sort_index", "-1"))
        for pid, lanes in procs.items():
            if pid != self.parent_pid:
                names = ", ".join(_short_name(lane) for lane in lanes)
                out.append(_meta("process_name", pid, 0, "name", encode_str(f"{names} (pid {pid})")))
                out.append(_meta("process_sort_index", pid, 0, "sort_index", str(lanes[0].index)))
        named: dict[tuple[int, int], list[LaneInfo]] = {}
        for lane, track in zip(self.lanes, self.worker_tracks, strict=True):
            named.setdefault(track, []).append(lane)
        for (pid, tid), lanes in named.items():
            title = " / ".join(_track_name(lane) for lane in lanes)
            out.append(_meta("thread_name", pid, tid, "name", encode_str(title)))
            out.append(_meta("thread_sort_index", pid, tid, "sort_index", str(3 * lanes[0].index)))
        for index in sorted(state_lanes | span_lanes):
            lane = self.lanes[index]
            where = f"pid {lane.pid}" + (f" tid {lane.tid}" if lane.kind == "thread" else "")
            for lanes_set, tid, suffix, offset in ((state_lanes, self.state_tid(index), "states", 1),
                                                   (span_lanes, self.span_tid(index), "waits", 2)):
                if index in lanes_set:
                    out.append(_meta("thread_name", lane.pid, tid, "name", encode_str(f"{where} {suffix}")))
                    out.append(_meta("thread_sort_index", lane.pid, tid, "sort_index", str(3 * index + offset)))
        return out


def build_layout(lanes: list[LaneInfo]) -> TrackLayout:
    """The layout for ``lanes`` (already extended with placeholders by the caller)."""
    real = [v for lane in lanes for v in (lane.pid, lane.tid)]
    base = max([SYNTHETIC_FLOOR - 1, *real]) + 1
    parent = next((lane.pid for lane in lanes if lane.kind == "parent"), None)
    if parent is None:
        parent = next((lane.pid for lane in lanes if lane.kind == "thread"), None)
    synthetic = parent is None
    parent_pid = base + 2 * len(lanes) + 1 if parent is None else parent
    tracks = tuple((lane.pid, lane.tid) for lane in lanes)
    numbers: dict[tuple[int, int], int] = {}
    ids = tuple(numbers.setdefault(track, len(numbers)) for track in tracks)
    return TrackLayout(tuple(lanes), base, parent_pid, synthetic, tracks, ids)


def _short_name(lane: LaneInfo) -> str:
    if lane.kind == "parent":
        return lane.name or "parent"
    return f"worker {lane.index}"


def _track_name(lane: LaneInfo) -> str:
    if lane.kind == "parent":
        return f"{lane.name or 'parent'} (tid {lane.tid})"
    if lane.kind == "thread":
        return f"worker {lane.index} (pid {lane.pid}, tid {lane.tid})"
    return f"worker {lane.index} (pid {lane.pid})"


def _meta(name: str, pid: int, tid: int, key: str, value: str) -> str:
    return f'{{"ph":"M","name":"{name}","pid":{pid},"tid":{tid},"args":{{"{key}":{value}}}}}'
