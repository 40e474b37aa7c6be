"""Chrome trace / Perfetto JSON: a structural validator over what we write, and exact re-opening."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from synthetic import PARENT_PID, assert_same_timeline, build_timeline

from procviz.engine.events import TaskState
from procviz.engine.formats import TimelineFileError, chrome_events, chrome_read, read_timeline, write_timeline
from procviz.engine.formats.chrome_tracks import SYNTHETIC_FLOOR
from procviz.engine.formats.model import TASK_STATE_NAMES, WORKER_STATE_NAMES


def _trace(tmp_path, tl, name="run.trace.json"):
    path = tmp_path / name
    write_timeline(tl, path)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return path, json.load(fh)


def validate(doc: dict) -> dict:
    """Check the trace the way a viewer needs it; returns the events grouped for further checks."""
    assert doc["displayTimeUnit"] == "ms"
    events = doc["traceEvents"]
    assert isinstance(events, list) and events
    slices: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    groups: dict[str, list[dict]] = defaultdict(list)
    for ev in events:
        assert isinstance(ev["ph"], str)
        assert type(ev["pid"]) is int and type(ev["tid"]) is int, ev
        groups[ev["ph"]].append(ev)
        if ev["ph"] == "X":
            assert type(ev["ts"]) in (int, float) and type(ev["dur"]) in (int, float), ev
            assert ev["dur"] >= 0, ev
            slices[(ev["pid"], ev["tid"])].append((ev["ts"], ev["ts"] + ev["dur"]))
    for track, spans in slices.items():
        spans.sort()
        for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= prev_end - 1e-9, f"overlap on track {track}: {start} < {prev_end}"
    begins = {(e["cat"], e["id"]): e for e in groups["b"]}
    ends = {(e["cat"], e["id"]): e for e in groups["e"]}
    assert len(begins) == len(groups["b"]) and len(ends) == len(groups["e"])
    assert begins.keys() == ends.keys()
    for key, b in begins.items():
        e = ends[key]
        assert (b["pid"], b["tid"], b["name"]) == (e["pid"], e["tid"], e["name"])
        assert e["ts"] >= b["ts"]
    return groups


def _task_no(event: dict) -> int:
    """The task of a task slice: its name says it (``"task 12"``)."""
    name = event["name"]
    assert name.startswith("task "), name
    return int(name[5:])


def _names(groups, kind):
    return {(m["pid"], m["tid"]): m["args"]["name"] for m in groups["M"] if m["name"] == kind}


def test_trace_is_valid_and_names_every_worker(tmp_path):
    tl = build_timeline(n=90, k=4)
    _, doc = _trace(tmp_path, tl)
    groups = validate(doc)
    threads, procs = _names(groups, "thread_name"), _names(groups, "process_name")
    for lane in tl.lanes[:4]:
        assert threads[(lane.pid, lane.tid)] == f"worker {lane.index} (pid {lane.pid})"
        assert procs[(lane.pid, 0)] == f"worker {lane.index} (pid {lane.pid})"
    assert procs[(PARENT_PID, 0)] == f"procviz parent (pid {PARENT_PID})"
    sort_keys = {m["name"] for m in groups["M"]}
    assert {"process_sort_index", "thread_sort_index"} <= sort_keys


def test_one_task_slice_per_started_task_on_its_worker_track(tmp_path):
    tl = build_timeline(n=90, k=4)
    _, doc = _trace(tmp_path, tl)
    tasks = [e for e in validate(doc)["X"] if e["cat"] == "task"]
    started = np.flatnonzero(tl.start_ns >= 0)
    assert sorted(_task_no(e) for e in tasks) == started.tolist()
    for e in tasks:
        i = _task_no(e)
        assert "task" not in e["args"]  # (the name says it: 14 bytes a task less)
        lane = tl.lanes[tl.lane[i]]
        assert (e["pid"], e["tid"]) == (lane.pid, lane.tid)
        assert e["args"]["state"] == TASK_STATE_NAMES[tl.state[i]]
        assert e["ts"] == pytest.approx((tl.start_ns[i] - tl.t0_ns) / 1000, abs=1e-3) or e["args"].get("clipped")
        if tl.end_ns[i] >= 0 and not e["args"].get("clipped"):
            assert e["dur"] == pytest.approx((tl.end_ns[i] - tl.start_ns[i]) / 1000, abs=2e-3)
    by_task = {_task_no(e): e for e in tasks}
    assert by_task[3]["args"]["reason"] == "ValueError: bad value 3" and "Traceback" in by_task[3]["args"]["traceback"]
    assert "ready_ms" not in by_task[0]["args"]  # unmeasured stays unknown (left out, not 0)
    assert by_task[1]["args"]["ready_ms"] == pytest.approx(tl.ready_ns[1] / 1e6, abs=1e-3)
    assert by_task[tl.n_tasks - 3]["args"]["state"] == "running"


def test_jitter_overlap_is_clipped_and_flagged(tmp_path):
    tl = build_timeline(k=3)
    assert tl.start_ns[3] < tl.end_ns[0]  # measured overlap on lane 0
    _, doc = _trace(tmp_path, tl)
    tasks = {_task_no(e): e for e in validate(doc)["X"] if e["cat"] == "task"}
    assert tasks[3]["args"]["clipped"] is True
    assert tasks[3]["ts"] >= tasks[0]["ts"] + tasks[0]["dur"]
    assert "clipped" not in tasks[0]["args"]


def _queue_spans(groups: dict) -> tuple[dict, dict]:
    """The queue's async begin and end events by chunk number (their id)."""
    return ({int(e["id"], 16): e for e in groups["b"]}, {int(e["id"], 16): e for e in groups["e"]})


def test_queued_time_is_async_on_the_parent_never_a_worker_track(tmp_path):
    tl = build_timeline(n=90, k=4)
    _, doc = _trace(tmp_path, tl)
    groups = validate(doc)
    worker_tracks = {(lane.pid, lane.tid) for lane in tl.lanes}
    queue_tracks = {(e["pid"], e["tid"]) for e in groups["b"] + groups["e"]}
    assert len(queue_tracks) == 1
    (pid, tid), = queue_tracks
    assert pid == PARENT_PID and (pid, tid) not in worker_tracks
    assert _names(groups, "thread_name")[(pid, tid)] == "task queue"


def test_queued_time_is_one_span_per_pool_chunk(tmp_path):
    tl = build_timeline(n=90, k=4)  # chunks of two tasks
    _, doc = _trace(tmp_path, tl)
    groups = validate(doc)
    begin, end = _queue_spans(groups)
    submitted = np.flatnonzero(tl.submitted_ns >= 0)
    chunks = sorted(set(tl.chunk[submitted].tolist()))
    assert sorted(begin) == chunks and len(chunks) < len(submitted)
    assert sum(b["args"].get("tasks", 1) for b in begin.values()) == len(submitted)
    for c in chunks:
        members = submitted[tl.chunk[submitted] == c]
        # (a chunk one of whose tasks was never submitted holds one: it names that task)
        assert begin[c]["args"] == ({"chunk": c, "tasks": len(members)} if len(members) > 1 else
                                    {"task": int(members[0])})
        assert begin[c]["ts"] == pytest.approx((tl.submitted_ns[members].min() - tl.t0_ns) / 1000, abs=1e-3)
        left = [s if s >= 0 else (e if e >= 0 else tl.now_ns) for s, e in zip(
            tl.start_ns[members].tolist(), tl.end_ns[members].tolist(), strict=True)]
        assert end[c]["ts"] == pytest.approx((min(left) - tl.t0_ns) / 1000, abs=1e-3)  # its first task started
    i = 7  # every task's own wait stays on its slice
    task = next(e for e in groups["X"] if e["cat"] == "task" and _task_no(e) == i)
    assert task["args"]["queued_ms"] == pytest.approx((tl.start_ns[i] - tl.submitted_ns[i]) / 1e6, abs=1e-3)


def test_a_chunk_of_one_task_names_the_task(tmp_path):
    tl = build_timeline(n=90, k=4)
    tl.chunk[:] = np.arange(tl.n_tasks)[::-1]  # one task a chunk, numbered against the ids' order
    _, doc = _trace(tmp_path, tl)
    begin, end = _queue_spans(validate(doc))
    submitted = np.flatnonzero(tl.submitted_ns >= 0)
    assert sorted(begin) == sorted(tl.chunk[submitted].tolist())
    for i in submitted.tolist():
        c = int(tl.chunk[i])
        assert begin[c]["args"] == {"task": i}
        assert begin[c]["ts"] == pytest.approx((tl.submitted_ns[i] - tl.t0_ns) / 1000, abs=1e-3)
        if tl.start_ns[i] >= 0:
            assert end[c]["ts"] == pytest.approx((tl.start_ns[i] - tl.t0_ns) / 1000, abs=1e-3)


def test_os_states_on_their_own_track_with_new_and_terminated(tmp_path):
    tl = build_timeline(n=60, k=3)
    _, doc = _trace(tmp_path, tl)
    groups = validate(doc)
    states = [e for e in groups["X"] if e["cat"] == "state"]
    threads = _names(groups, "thread_name")
    for lane in tl.lanes[:3]:
        mine = [e for e in states if e["pid"] == lane.pid]
        assert mine and {e["tid"] for e in mine} != {lane.tid}
        tid = mine[0]["tid"]
        assert tid >= SYNTHETIC_FLOOR and threads[(lane.pid, tid)] == f"pid {lane.pid} states"
        names = [e["name"] for e in sorted(mine, key=lambda e: e["ts"])]
        assert names[0] == "new" and names[-1] == "terminated"
        assert set(names) <= set(WORKER_STATE_NAMES) and {"running", "waiting", "ready"} <= set(names)
    killed = next(e for e in states if e["name"] == "terminated" and e["pid"] == tl.lanes[2].pid)
    assert killed["args"] == {"exit_code": -9, "reason": "killed by SIGKILL"}


def test_counters_for_tasks_in_flight_cpu_and_rss(tmp_path):
    tl = build_timeline(n=60, k=3)
    _, doc = _trace(tmp_path, tl)
    counters = validate(doc)["C"]
    flight = [e for e in counters if e["name"] == "tasks"]
    assert flight and all(e["pid"] == PARENT_PID for e in flight)
    # Brute force over every start: how many started tasks have not ended (the jitter pair makes 4).
    starts, ends = tl.start_ns[tl.start_ns >= 0], tl.end_ns[tl.start_ns >= 0]
    expected = max(int(((starts <= t) & ((ends > t) | (ends < 0))).sum()) for t in starts)
    assert max(e["args"]["running"] for e in flight) == expected == 4
    assert max(e["args"]["queued"] for e in flight) == int((tl.submitted_ns >= 0).sum())  # all before any start
    cpu = [e for e in counters if e["name"] == "cpu"]
    rss = [e for e in counters if e["name"] == "rss"]
    assert len(cpu) == len(rss) == len(tl.resources)
    assert {e["pid"] for e in cpu} == {lane.pid for lane in tl.lanes[:3]}
    assert cpu[0]["args"]["percent"] == pytest.approx(float(tl.resources.data["cpu_pct"][0]), abs=0.05)


def test_flight_counter_is_binned_but_keeps_peaks(tmp_path, monkeypatch):
    tl = build_timeline(n=400, k=4)
    full = [e for e in validate(_trace(tmp_path, tl, "full.trace.json")[1])["C"] if e["name"] == "tasks"]
    monkeypatch.setattr(chrome_events, "MAX_FLIGHT_BINS", 20)
    binned = [e for e in validate(_trace(tmp_path, tl, "binned.trace.json")[1])["C"] if e["name"] == "tasks"]
    assert len(full) > 40 >= len(binned)
    for key in ("queued", "running"):
        assert max(e["args"][key] for e in binned) == max(e["args"][key] for e in full)
    assert binned[-1]["args"] == full[-1]["args"]


def test_spans_on_a_waits_track(tmp_path):
    tl = build_timeline(n=60, k=3)
    _, doc = _trace(tmp_path, tl)
    groups = validate(doc)
    spans = [e for e in groups["X"] if e["cat"] in ("wait", "callback")]
    assert len(spans) == len(tl.spans)
    assert {e["name"] for e in spans} == {"lock.acquire", "callback"}
    assert all(e["tid"] >= SYNTHETIC_FLOOR for e in spans)


def test_round_trip_is_exact_and_reexport_identical(tmp_path):
    tl = build_timeline(n=90, k=4)
    path, _ = _trace(tmp_path, tl)
    back = read_timeline(path)
    assert_same_timeline(tl, back)
    again = tmp_path / "again.trace.json"
    write_timeline(back, again)
    assert again.read_bytes() == path.read_bytes()


def _no_strict_read(*args):
    raise AssertionError("the strict path was taken")


@pytest.mark.parametrize("name", ["run.trace.json", "run.json.gz"])
def test_a_trace_as_procviz_wrote_it_is_read_without_decoding_its_events(tmp_path, monkeypatch, name):
    tl = build_timeline(n=90, k=4)
    path, _ = _trace(tmp_path, tl, name)
    with monkeypatch.context() as m:
        m.setattr(chrome_read, "_LeanEvents", _no_strict_read)
        m.setattr(chrome_read, "decode_utf8", _no_strict_read)
        fast = read_timeline(path)
    assert_same_timeline(tl, fast)
    monkeypatch.setattr(chrome_read, "_fast_read", lambda *a: None)
    assert_same_timeline(read_timeline(path), fast)


@pytest.mark.parametrize("edit", [
    ('"cat":"task"', '"cat":"tusk"'),  # an event changed, still valid
    ('"ph":"M"', '"ph" : "M"'),  # spacing
    ('"generator":"procviz"', '"generator":"procviz 0"'),  # otherData
    ("\n]", "\n,{\"ph\":\"i\",\"pid\":1,\"tid\":1,\"ts\":0}\n]"),  # one event more
])
def test_any_other_trace_is_read_by_the_strict_path(tmp_path, monkeypatch, edit):
    tl = build_timeline(n=90, k=4)
    path, _ = _trace(tmp_path, tl)
    text = path.read_text(encoding="ascii")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="ascii")
    original, strict = chrome_read._LeanEvents, []

    def counted(p):
        strict.append(p)
        return original(p)

    monkeypatch.setattr(chrome_read, "_LeanEvents", counted)
    assert_same_timeline(tl, read_timeline(path))
    assert strict, "the fast path took an edited trace"


def test_gzip_trace_round_trip(tmp_path):
    tl = build_timeline()
    path, doc = _trace(tmp_path, tl, "run.json.gz")  # .json.gz means Chrome trace
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    validate(doc)
    assert_same_timeline(tl, read_timeline(path))


def test_reformatted_trace_still_reopens(tmp_path):
    tl = build_timeline()
    path, doc = _trace(tmp_path, tl)
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="ascii")
    assert_same_timeline(tl, read_timeline(pretty))


def test_foreign_and_array_traces_are_refused(tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":0,"dur":1,"name":"x"}]}')
    with pytest.raises(TimelineFileError) as info:
        read_timeline(foreign)
    assert info.value.record == "document" and info.value.field == "procviz"
    array = tmp_path / "array.json"
    array.write_text('[{"ph":"X","pid":1,"tid":1,"ts":0,"dur":1,"name":"x"}]')
    with pytest.raises(TimelineFileError, match="array form"):
        read_timeline(array)


def test_running_tasks_reach_the_live_edge(tmp_path):
    tl = build_timeline()
    i = tl.n_tasks - 3
    assert tl.state[i] == TaskState.RUNNING
    _, doc = _trace(tmp_path, tl)
    e = next(e for e in validate(doc)["X"] if e["cat"] == "task" and _task_no(e) == i)
    assert e["ts"] + e["dur"] == pytest.approx((tl.now_ns - tl.t0_ns) / 1000)


@pytest.mark.parametrize("backend", ["serial", "thread_pool_executor"])
def test_a_real_run_exports_and_reopens_in_every_format(tmp_path, backend):
    from engine_helpers import run_config

    result = run_config({"backend": backend, "workers": 2, "workload": {"kind": "sleep", "count": 8,
                                                                         "duration_ms": 1}})
    tl = result.timeline
    for name in ("run.json", "run.trace.json", "run.json.gz"):
        path = tmp_path / name
        write_timeline(tl, path)
        assert_same_timeline(tl, read_timeline(path))
    validate(json.loads((tmp_path / "run.trace.json").read_text(encoding="ascii")))
    write_timeline(tl, tmp_path / "run.csv")
    back = read_timeline(tmp_path / "run.csv")
    assert np.array_equal(back.state, tl.state) and np.array_equal(back.lane, tl.lane)
    assert np.array_equal(back.end_ns - back.t0_ns, tl.end_ns - tl.t0_ns)


OLD_WRITER_TRACE = Path(__file__).parent / "fixtures" / "old_writer.trace.json"


def test_a_trace_of_the_previous_writer_still_reopens(tmp_path):
    # Written by the writer before one queue span per chunk and slices without a "task" arg
    # (commit 51ed5e0), from build_timeline(n=40, k=3): its events differ from what procviz writes
    # now, so it is read by the strict path, from its native copy.
    old = OLD_WRITER_TRACE.read_bytes()
    assert b'"args":{"task":0,"state"' in old and old.count(b'"ph":"b"') == 39  # (one per submitted task)
    tl = build_timeline(n=40, k=3)
    assert_same_timeline(tl, read_timeline(OLD_WRITER_TRACE))
    validate(json.loads(old))
    new = tmp_path / "new.trace.json"
    write_timeline(tl, new)
    assert new.read_bytes() != old and len(new.read_bytes()) < len(old)


@pytest.mark.parametrize("spread", [1000, 1 << 62])  # (the second leaves no room for the kind in a key)
def test_counter_changes_are_sorted_with_their_kinds(spread):
    rng = np.random.default_rng(3)
    parts = [np.sort(rng.integers(0, spread, size)) for size in (40, 0, 25, 31)]
    times, kinds = chrome_events._sorted_changes(list(parts))
    assert np.all(times[1:] >= times[:-1])
    pairs = sorted((int(t), k) for k, part in enumerate(parts) for t in part.tolist())
    assert sorted(zip(times.tolist(), kinds.tolist(), strict=True)) == pairs
