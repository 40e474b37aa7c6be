"""Refused files: every refusal is a TimelineFileError naming the file, the record and the field."""

from __future__ import annotations

import csv
import gzip
import json
import re

import pytest
from synthetic import build_timeline

from procviz.engine.formats import FORMATS, TimelineFileError, choose_format, fileio, read_timeline, write_timeline
from procviz.engine.formats.native_write import VERSION


@pytest.fixture(scope="module")
def native_text(tmp_path_factory) -> str:
    """A valid native file's text, to break in one place per test."""
    path = tmp_path_factory.mktemp("good") / "good.json"
    write_timeline(build_timeline(exotic=False), path)
    return path.read_text(encoding="utf-8")


def refused(tmp_path, content, record, field="", name="bad.json"):
    """Write ``content``, read it, and check the error names this file, ``record`` and ``field``."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(TimelineFileError) as info:
        read_timeline(path)
    err = info.value
    assert (err.path, err.record, err.field) == (str(path), record, field), str(err)
    assert str(err).startswith(f"{path}: {record}") and (not field or f"'{field}'" in str(err))
    return err


def edit(text, fn):
    """Apply ``fn`` to the decoded document and encode it back (json.dumps writes NaN as NaN)."""
    doc = json.loads(text)
    fn(doc)
    return json.dumps(doc, ensure_ascii=False)


def test_truncated_file(tmp_path, native_text):
    err = refused(tmp_path, native_text[: len(native_text) // 2], "line " + str(native_text[: len(native_text) // 2]
                                                                               .count("\n") + 1))
    assert "truncated" in str(err)


def test_wrong_format_tag(tmp_path, native_text):
    err = refused(tmp_path, native_text.replace('"procviz-timeline"', '"other-tool"', 1), "document", "format")
    assert "other-tool" in str(err)
    refused(tmp_path, edit(native_text, lambda d: d.pop("format")), "document", "format")


def test_version_99(tmp_path, native_text):
    err = refused(tmp_path, native_text.replace(f'"version":{VERSION}', '"version":99', 1), "document", "version")
    assert "99" in str(err) and "newer" in str(err)
    refused(tmp_path, native_text.replace(f'"version":{VERSION}', '"version":"1"', 1), "document", "version")


def test_nan_and_infinity(tmp_path, native_text):
    def nan_cost(d):
        d["tasks"]["cost_ms"][4] = float("nan")

    err = refused(tmp_path, edit(native_text, nan_cost), "tasks[4]", "cost_ms")
    assert "NaN" in str(err)
    refused(tmp_path, native_text.replace('"t0_ns":1000000000000', '"t0_ns":Infinity', 1), "run", "t0_ns")
    huge = re.sub(r'"cost_ms":\[[^,]+,', '"cost_ms":[1e999,', native_text, count=1)
    refused(tmp_path, huge, "tasks[0]", "cost_ms")


def test_a_finite_number_too_large_for_its_column_is_refused_not_made_null(tmp_path, native_text, recwarn):
    def huge_percent(d):
        d["resources"]["cpu_pct"][0] = 1e308  # finite, but past a 32-bit float (the column's type)

    err = refused(tmp_path, edit(native_text, huge_percent), "resources[0]", "cpu_pct")
    assert "32-bit" in str(err)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # (said once, by the refusal)


def test_duplicate_keys(tmp_path, native_text):
    twice = f'"version":{VERSION},"version":{VERSION},'
    refused(tmp_path, native_text.replace(f'"version":{VERSION},', twice, 1), "document", "version")
    lane = native_text.replace('"pid":4101,', '"pid":4101,"pid":4101,', 1)
    refused(tmp_path, lane, "lanes[1]", "pid")
    config = native_text.replace('"workers":3,', '"workers":3,"workers":4,', 1)
    refused(tmp_path, config, "document", "config.workers")


def test_end_before_start(tmp_path, native_text):
    def swap(d):
        t = d["tasks"]
        t["end_ns"][5] = t["start_ns"][5] - 1

    err = refused(tmp_path, edit(native_text, swap), "tasks[5]", "end_ns")
    assert "before it starts" in str(err)

    def interval(d):
        d["intervals"]["end_ns"][2] = d["intervals"]["start_ns"][2] - 10

    refused(tmp_path, edit(native_text, interval), "intervals[2]", "end_ns")


def test_on_cpu_longer_than_the_task(tmp_path, native_text):
    """procviz never writes a task on CPU for longer than it lasted; a file that says so (10^12 ns
    on a 20 ms task, shown as "cpu_ms 1000000" and "waiting 0") is refused, in CSV too."""
    doc = json.loads(native_text)
    t = doc["tasks"]
    k = next(i for i in range(len(t["state"])) if t["start_ns"][i] >= 0 and t["end_ns"][i] >= 0)

    def long_cpu(d):
        d["tasks"]["cpu_ns"][k] = d["tasks"]["end_ns"][k] - d["tasks"]["start_ns"][k] + 10**9

    err = refused(tmp_path, edit(native_text, long_cpu), f"tasks[{k}]", "cpu_ns")
    assert "longer than the task" in str(err)
    good = tmp_path / "good.csv"
    write_timeline(read_timeline(_write(tmp_path, native_text)), good)
    with open(good, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    row = next(r for r in rows[1:] if r[0] == str(k))
    row[rows[0].index("cpu_ms")] = "1000000.000000"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(TimelineFileError) as info:
        read_timeline(bad)
    assert "cpu_ms" in str(info.value) and "longer than the task" in str(info.value)


def _write(tmp_path, text):
    path = tmp_path / "copy.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_negative_durations(tmp_path, native_text):
    def cpu(d):
        d["tasks"]["cpu_ns"][1] = -5

    refused(tmp_path, edit(native_text, cpu), "tasks[1]", "cpu_ns")

    def ready(d):
        d["intervals"]["ready_ns"][0] = -1

    refused(tmp_path, edit(native_text, ready), "intervals[0]", "ready_ns")


def test_wrong_types(tmp_path, native_text):
    def text_time(d):
        d["tasks"]["start_ns"][7] = "soon"

    err = refused(tmp_path, edit(native_text, text_time), "tasks[7]", "start_ns")
    assert "'soon'" in str(err)

    def bool_pid(d):
        d["lanes"][0]["pid"] = True

    refused(tmp_path, edit(native_text, bool_pid), "lanes[0]", "pid")

    def float_state(d):
        d["tasks"]["state"][2] = 3.0

    refused(tmp_path, edit(native_text, float_state), "tasks[2]", "state")

    def list_host(d):
        d["run"]["host"] = ["h"]

    refused(tmp_path, edit(native_text, list_host), "run", "host")
    refused(tmp_path, edit(native_text, lambda d: d.update(tasks=[])), "document", "tasks")


def test_out_of_range_and_inconsistent(tmp_path, native_text):
    def lane(d):
        d["tasks"]["lane"][3] = len(d["lanes"])

    refused(tmp_path, edit(native_text, lane), "tasks[3]", "lane")

    def state(d):
        d["tasks"]["state"][0] = 9

    refused(tmp_path, edit(native_text, state), "tasks[0]", "state")

    def text_id(d):
        d["texts"]["task_id"][0] = d["run"]["n_tasks"]

    refused(tmp_path, edit(native_text, text_id), "texts[0]", "task_id")

    def twice(d):
        d["texts"]["task_id"][1] = d["texts"]["task_id"][0]

    refused(tmp_path, edit(native_text, twice), "texts[1]", "task_id")

    def short(d):
        d["tasks"]["end_ns"].pop()

    err = refused(tmp_path, edit(native_text, short), "tasks", "end_ns")
    assert "expected 60" in str(err)

    def label(d):
        d["spans"]["label"][0] = 7

    refused(tmp_path, edit(native_text, label), "spans[0]", "label")

    def lane_index(d):
        d["lanes"][1]["index"] = 5

    refused(tmp_path, edit(native_text, lane_index), "lanes[1]", "index")

    def kind(d):
        d["lanes"][1]["kind"] = "daemon"

    refused(tmp_path, edit(native_text, kind), "lanes[1]", "kind")

    def enums(d):
        d["enums"]["task_state"].reverse()

    refused(tmp_path, edit(native_text, enums), "document", "enums")


def test_unknown_and_missing_fields(tmp_path, native_text):
    refused(tmp_path, edit(native_text, lambda d: d.update(extra=1)), "document", "extra")
    refused(tmp_path, edit(native_text, lambda d: d["run"].pop("host")), "run", "host")
    refused(tmp_path, edit(native_text, lambda d: d["lanes"][2].update(color="red")), "lanes[2]", "color")


def test_not_utf8(tmp_path, native_text):
    data = native_text.encode("utf-8").replace(b"test-host", b"test-\xffost", 1)
    err = refused(tmp_path, data, "line 4")
    assert "UTF-8" in str(err)


def test_file_over_the_size_limit(tmp_path, native_text, monkeypatch):
    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", 1000)
    err = refused(tmp_path, native_text, "file")
    assert "limited to 1000 bytes" in str(err)


def test_gzip_bomb_over_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", 100_000)
    bomb = gzip.compress(b"{" + b" " * 1_000_000 + b"}")
    assert len(bomb) < 100_000
    err = refused(tmp_path, bomb, "file", name="bomb.json.gz")
    assert "decompresses to more than" in str(err)


def test_truncated_gzip(tmp_path, native_text):
    data = gzip.compress(native_text.encode())
    err = refused(tmp_path, data[: len(data) // 2], "file", name="cut.json.gz")
    assert "truncated" in str(err)
    assert "after its gzip stream" in str(refused(tmp_path, data + b"garbage", "file", name="tail.json.gz"))
    assert "more than one gzip member" in str(refused(tmp_path, data + data, "file", name="two.json.gz"))


def test_a_file_cut_inside_a_string_says_where_the_string_starts(tmp_path, native_text):
    start = native_text.index('"procviz-timeline"')
    err = refused(tmp_path, native_text[:start + 5], "line 1")
    said = f"column {start + 1}: Unterminated string starting here; the file ends early (truncated?)"
    assert str(err).endswith(said), str(err)


# ---- Chrome traces ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trace_text(tmp_path_factory) -> str:
    """A valid Chrome trace's text, to break in one place per test."""
    path = tmp_path_factory.mktemp("good") / "good.trace.json"
    write_timeline(build_timeline(exotic=False), path)
    return path.read_text(encoding="utf-8")


def test_truncated_trace(tmp_path, trace_text):
    cut = trace_text[: int(len(trace_text) * 0.8)]
    err = refused(tmp_path, cut, f"line {cut.count(chr(10)) + 1}")
    assert "truncated" in str(err)
    err = refused(tmp_path, trace_text.rstrip()[:-1], f"line {trace_text.count(chr(10))}")
    assert "closing" in str(err)


def test_trace_event_nan_duplicate_and_negative_dur(tmp_path, trace_text):
    lines = trace_text.split("\n")
    k = next(i for i, line in enumerate(lines) if '"cat":"task"' in line)
    index = k - next(i for i, line in enumerate(lines) if line.endswith('"traceEvents":[')) - 1

    def with_line(line):
        return "\n".join(lines[:k] + [line] + lines[k + 1:])

    refused(tmp_path, with_line(lines[k].replace('"dur":', '"dur":-', 1)), f"traceEvents[{index}]", "dur")
    refused(tmp_path, with_line(lines[k].replace('"ph":"X",', '"ph":"X","ph":"X",', 1)), f"traceEvents[{index}]", "ph")
    err = refused(tmp_path, with_line(re.sub(r'"ts":[0-9.]+', '"ts":NaN', lines[k], count=1)),
                  f"traceEvents[{index}]")
    assert "NaN" in str(err)
    refused(tmp_path, with_line(lines[k].replace('"pid":', '"pid":"', 1).replace(',"tid"', '","tid"', 1)),
            f"traceEvents[{index}]", "pid")


def test_trace_with_bad_embedded_timeline(tmp_path, trace_text):
    bad = trace_text.replace(f'"version":{VERSION}', '"version":99', 1)
    refused(tmp_path, bad, "procviz", "version")
    bad = re.sub(r'"state":\[(\d+),', '"state":[42,', trace_text, count=1)
    refused(tmp_path, bad, "procviz.tasks[0]", "state")


# ---- choosing the format ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt", "expected"), [
    ("run.json", None, ("json", False)),
    ("run.JSON", None, ("json", False)),
    ("run.csv", None, ("csv", False)),
    ("run.csv.gz", None, ("csv", True)),
    ("run.trace.json", None, ("chrome", False)),
    ("run.chrome.json", None, ("chrome", False)),
    ("run.perfetto.json", None, ("chrome", False)),
    ("run.json.gz", None, ("chrome", True)),
    ("run.trace.json.gz", None, ("chrome", True)),
    ("run.json.gz", "json", ("json", True)),
    ("run.trace.json", "csv", ("csv", False)),
    ("anything", "chrome", ("chrome", False)),
])
def test_choose_format(name, fmt, expected):
    assert choose_format(name, fmt) == expected


@pytest.mark.parametrize(("name", "fmt"), [("run.png", None), ("run.svg", None), ("x.json", "png"), ("x", "svg")])
def test_images_are_refused_with_a_pointer_to_gui_render(tmp_path, name, fmt):
    with pytest.raises(ValueError, match="gui.render"):
        write_timeline(build_timeline(), tmp_path / name, fmt=fmt)
    assert not list(tmp_path.iterdir())


def test_unknown_names_and_formats_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        write_timeline(build_timeline(), tmp_path / "run.txt")
    with pytest.raises(ValueError, match="unknown timeline format"):
        write_timeline(build_timeline(), tmp_path / "run.json", fmt="xml")
    assert FORMATS == ("json", "csv", "chrome")
