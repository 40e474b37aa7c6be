"""Native JSON timeline files: lossless round trips, byte-identical re-export, atomic writes."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from synthetic import assert_same_timeline, build_timeline

from procviz.engine.events import RunInfo, TaskState
from procviz.engine.formats import TimelineFileError, jsonio, native_write, read_timeline, write_timeline
from procviz.engine.timeline import Timeline


def test_round_trip_keeps_everything(tmp_path, synthetic_timeline):
    tl = synthetic_timeline
    path = tmp_path / "run.json"
    write_timeline(tl, path)
    back = read_timeline(path)
    assert_same_timeline(tl, back)
    assert back.texts[31].message == "name \udc80 undecodable, \0 nul"  # lone surrogate survived


def test_export_open_export_is_byte_identical(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_timeline(build_timeline(n=200, k=5), first)
    write_timeline(read_timeline(first), second)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("name", ["a.json", "a.json.gz", "a.csv", "a.trace.json"])
def test_writeback_while_writing_keeps_the_bytes(tmp_path, synthetic_timeline, monkeypatch, name):
    """Handing written stretches to the disk as the writer goes (fileio._WritebackFile) changes
    nothing in the file, plain or gzip."""
    from procviz.engine.formats import fileio

    plain = tmp_path / "plain" / name
    plain.parent.mkdir()
    write_timeline(synthetic_timeline, plain)
    handed = []
    advise = os.posix_fadvise

    def spy(fd: int, at: int, size: int, how: int) -> None:
        handed.append((at, size))
        advise(fd, at, size, how)

    monkeypatch.setattr(fileio, "WRITEBACK_BYTES", 100)
    monkeypatch.setattr(os, "posix_fadvise", spy)
    path = tmp_path / name
    write_timeline(synthetic_timeline, path)
    assert path.read_bytes() == plain.read_bytes()
    assert handed and all(at == sum(size for _, size in handed[:i]) for i, (at, _) in enumerate(handed))


def test_gzip_round_trip_and_reproducible_bytes(tmp_path, synthetic_timeline):
    tl = synthetic_timeline
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    write_timeline(tl, a, fmt="json")
    write_timeline(tl, b, fmt="json")
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    assert a.read_bytes() == b.read_bytes()  # no timestamp or temp name in the gzip header
    assert_same_timeline(tl, read_timeline(a))


def test_same_bytes_without_orjson(tmp_path, monkeypatch, synthetic_timeline):
    tl = synthetic_timeline
    with_orjson, without = tmp_path / "a.json", tmp_path / "b.json"
    write_timeline(tl, with_orjson)
    monkeypatch.setattr(jsonio, "_orjson", None)
    write_timeline(tl, without)
    assert with_orjson.read_bytes() == without.read_bytes()
    assert_same_timeline(tl, read_timeline(without))


def test_columns_are_one_per_line(tmp_path):
    path = tmp_path / "run.json"
    write_timeline(build_timeline(), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for name in native_write.INT_TASK_COLUMNS:
        assert sum(line.startswith(f'"{name}":[') for line in lines) == 1, name
    assert lines[0] == f'{{"format":"procviz-timeline","version":{native_write.VERSION},'


def test_lanes_without_lane_info_get_placeholders(tmp_path):
    # Like benchmarks/bench_engine.py: columns written directly, no LaneInfo at all.
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=8, t0_ns=0, config={}, host="", cpu_count=2, schedstat=False))
    tl.start_ns[:] = np.arange(8) * 1000
    tl.end_ns[:] = tl.start_ns + 900
    tl.lane[:] = np.arange(8) % 4
    tl.state[:] = TaskState.DONE
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_timeline(tl, a)
    back = read_timeline(a)
    assert len(back.lanes) == 4 and back.lanes[3].pid == 0
    assert np.array_equal(back.lane, tl.lane)
    write_timeline(back, b)
    assert a.read_bytes() == b.read_bytes()


def test_unknown_costs_and_empty_tables(tmp_path):
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=3, t0_ns=5, config={"workload": {"kind": "function"}}, host="h", cpu_count=1,
                     schedstat=False, arg_texts=("a", "b", "c")))
    path = tmp_path / "run.json"
    write_timeline(tl, path)
    assert '"cost_ms":null' in path.read_text(encoding="utf-8")
    back = read_timeline(path)
    assert np.isnan(back.cost_ms).all() and back.run == tl.run and len(back.intervals) == 0


def test_zero_tasks(tmp_path):
    tl = Timeline()
    tl.begin(RunInfo(n_tasks=0, t0_ns=0, config={}, host="", cpu_count=1, schedstat=True))
    path = tmp_path / "empty.json"
    write_timeline(tl, path)
    assert read_timeline(path).n_tasks == 0


def test_run_info_lists_differing_from_columns_are_kept(tmp_path, synthetic_timeline):
    tl = synthetic_timeline
    tl.cost_ms[0] = 99.0  # the column no longer equals run.cost_ms: both must be stored
    path = tmp_path / "run.json"
    write_timeline(tl, path)
    back = read_timeline(path)
    assert back.run.cost_ms == tl.run.cost_ms and back.cost_ms[0] == 99.0


def test_a_timeline_without_a_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no run"):
        write_timeline(Timeline(), tmp_path / "x.json")
    assert not list(tmp_path.iterdir())


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    path.write_text("old")
    os.chmod(path, 0o640)

    def broken(timeline, out):
        out.write(b'{"format":')
        raise OSError("disk full")

    monkeypatch.setitem(__import__("procviz.engine.formats.write", fromlist=["_WRITERS"])._WRITERS, "json", broken)
    with pytest.raises(OSError, match="disk full"):
        write_timeline(build_timeline(), path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_replacing_keeps_permissions(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old")
    os.chmod(path, 0o640)
    write_timeline(build_timeline(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert read_timeline(path).n_tasks == 60


@pytest.mark.parametrize("name", ["x.json", "x.csv", "x.trace.json"])
def test_lone_surrogates_never_crash_a_writer(tmp_path, name):
    from dataclasses import replace

    tl = build_timeline()
    tl.lanes[0] = replace(tl.lanes[0], name="w\udc80rker\x7f")
    tl.span_labels[0] = "lock \udcff"
    tl.run = replace(tl.run, host="h\udc80st")
    path = tmp_path / name
    write_timeline(tl, path)
    path.read_bytes().decode("utf-8")  # valid UTF-8: surrogates are escaped, not written raw
    if name != "x.csv":
        path.read_bytes().decode("ascii")  # JSON files are pure ASCII: compact strings when read back
        assert b"\x7f" not in path.read_bytes()  # Perfetto refuses raw control characters
    back = read_timeline(path)
    if name != "x.csv":
        assert back.lanes[0].name == "w\udc80rker\x7f" and back.span_labels[0] == "lock \udcff"
        assert back.run.host == "h\udc80st"



def _with_machine() -> Timeline:
    from procviz.engine.events import MACHINE_DTYPE

    tl = build_timeline()
    rows = np.zeros(3, MACHINE_DTYPE)
    rows["start_ns"] = tl.t0_ns + np.arange(3) * 100_000_000
    rows["end_ns"] = rows["start_ns"] + 100_000_000
    rows["cpus"] = 2
    rows["busy"] = [0.5, 1.0, 0.25]
    rows["own"] = [0.25, 0.5, 0.0]
    tl.machine.append(rows)
    return tl


def test_machine_lane_round_trips(tmp_path):
    tl = _with_machine()
    path = tmp_path / "m.json"
    write_timeline(tl, path)
    back = read_timeline(path)
    assert np.array_equal(back.machine.data, tl.machine.data)
    chrome = tmp_path / "m.trace.json"
    write_timeline(tl, chrome)
    assert np.array_equal(read_timeline(chrome).machine.data, tl.machine.data)


def test_version_1_files_without_a_machine_lane_still_load(tmp_path):
    path = tmp_path / "v2.json"
    write_timeline(_with_machine(), path)
    text = path.read_text(encoding="utf-8")
    head, _, _ = text.rpartition(',\n"machine":')
    old = head.replace(f'"version":{native_write.VERSION},', '"version":1,', 1) + "}\n"
    v1 = tmp_path / "v1.json"
    v1.write_text(old, encoding="utf-8")
    back = read_timeline(v1)
    assert len(back.machine) == 0 and back.n_tasks == build_timeline().n_tasks
    # a version 1 file may not carry tables of later versions
    v1.write_text(text.replace(f'"version":{native_write.VERSION},', '"version":1,', 1), encoding="utf-8")
    with pytest.raises(Exception, match="machine"):
        read_timeline(v1)


def test_chrome_trace_carries_the_machine_lane_as_a_counter(tmp_path):
    import json

    path = tmp_path / "m.trace.json"
    write_timeline(_with_machine(), path)
    events = json.loads(path.read_text(encoding="utf-8"))["traceEvents"]
    machine = [e for e in events if e.get("name") == "machine CPUs %"]
    assert [round(e["args"]["own"]) for e in machine] == [25, 50, 0, 0]
    assert [round(e["args"]["other"]) for e in machine] == [25, 50, 25, 0]


def test_task_bars_come_before_the_rest_and_match_the_timeline(tmp_path, monkeypatch):
    """read_timeline(on_tasks=...) hands out lane/start/end/state of a native file after parsing
    only those four columns; they are what the finished read holds."""
    from procviz.engine.formats import json_columns

    tl = build_timeline(n=500, k=4, exotic=False)
    path = tmp_path / "t.json"
    write_timeline(tl, path)
    parsed: list[int] = []
    real_parse = json_columns._parse
    monkeypatch.setattr(json_columns, "_parse", lambda body: parsed.append(len(body)) or real_parse(body))
    previews = []
    back = read_timeline(path, on_tasks=lambda p: previews.append((p, len(parsed))))
    assert len(previews) == 1
    preview, parsed_before = previews[0]
    assert parsed_before == 4 < len(parsed)  # the other columns came after
    assert preview.n_tasks == back.n_tasks and preview.t0_ns == back.t0_ns and preview.lanes == list(back.lanes)
    for name in ("lane", "start_ns", "end_ns", "state"):
        col = getattr(preview, name)
        assert np.array_equal(col, getattr(back, name)) and col.dtype == getattr(back, name).dtype, name


@pytest.mark.parametrize("old, new, preview", [
    ('"chunk":[', '"chunk":[-1,', True),  # a bad column after the bars: bars first, then the refusal
    ('"state":[', '"state":[99,', False),  # a bad bar column: no bars
])
def test_task_bars_of_a_file_refused_later(tmp_path, old, new, preview):
    path = tmp_path / "t.json"
    write_timeline(build_timeline(n=50, k=2, exotic=False), path)
    text = path.read_text()
    head, _, rest = text.partition(old)
    path.write_text(head + new + rest.split(",", 1)[1])
    previews = []
    with pytest.raises(TimelineFileError):
        read_timeline(path, on_tasks=previews.append)
    assert bool(previews) == preview


def test_task_bars_with_a_column_left_to_the_strict_decoder(tmp_path):
    """A cost column with a null (not plain numbers): bars first, the cost read strictly."""
    tl = build_timeline(n=80, k=2, exotic=False)
    tl.cost_ms[:] = 1.5
    tl.cost_ms[7] = np.nan
    path = tmp_path / "t.json"
    write_timeline(tl, path)
    assert ",null," in path.read_text()
    previews = []
    back = read_timeline(path, on_tasks=previews.append)
    assert len(previews) == 1
    assert_same_timeline(tl, back)
