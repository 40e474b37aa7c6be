"""The columnar fast paths of the formats give exactly what the row-by-row paths give.

Writers: the CSV and the Chrome trace's task slices and queue spans are built from whole numpy
columns (engine/formats/textcols.py); here they are compared byte for byte with row-by-row
formatting of the documented templates, with chunks small enough that every file spans many of
them. Readers: the fast paths (json_columns for native task columns, csv_fast for procviz CSV)
must build the same Timeline as the strict paths, and anything they do not take plainly must end
in the strict path's own refusal.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest
from synthetic import assert_same_timeline, build_timeline, finished_run

import procviz.engine.formats.chrome_events as chrome_events
import procviz.engine.formats.csv_fast as csv_fast
import procviz.engine.formats.csv_read as csv_read
import procviz.engine.formats.csv_write as csv_write
import procviz.engine.formats.json_columns as json_columns
import procviz.engine.formats.read as read_module
from procviz.engine.events import EngineBatch, LaneInfo, RunInfo
from procviz.engine.formats import TimelineFileError, read_timeline, write_timeline
from procviz.engine.formats.chrome_tracks import build_layout
from procviz.engine.formats.fixed_point import MILLIS, SECONDS, format_fixed
from procviz.engine.formats.json_columns import cut_task_columns
from procviz.engine.formats.model import TASK_STATE_NAMES, derived_arg_texts, export_lanes, reason_text, trace_end_ns
from procviz.engine.formats.overlap import clip_overlaps
from procviz.engine.formats.textcols import fixed_field, hex_field, int_field, join_fields
from procviz.engine.timeline import Timeline


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows: every file below spans many of them (and their edges)."""
    monkeypatch.setattr(csv_write, "CHUNK_ROWS", 7)
    monkeypatch.setattr(chrome_events, "CHUNK", 5)


def _timelines() -> dict[str, Timeline]:
    edge = build_timeline(n=200, k=4, exotic=False)
    edge.texts[40] = type(edge.texts[3])(40, "error", "Long", "x" * 5000, "tb " * 3000)  # spliced, chunks halved
    edge.state[40] = 4
    lanes_only = Timeline()  # lanes without tasks
    lanes_only.apply(EngineBatch(run=RunInfo(n_tasks=0, t0_ns=5, config={}, host="h", cpu_count=1, schedstat=False),
                                 lanes=(LaneInfo(0, 11, 11, "process", "w"), LaneInfo(1, 12, 12, "process", "w"))))
    sparse = build_timeline(n=120, k=3, exotic=False)  # ready times measured for a few tasks only:
    sparse.ready_ns[np.arange(120) % 17 != 3] = -1  # chunks with none (the arg left out) and with some
    return {"edge cases": edge, "plain run": finished_run(3000, lanes=3), "lanes without tasks": lanes_only,
            "few ready times": sparse}


# ---- writers against row-by-row formatting -------------------------------------------------------


def _reference_csv(tl: Timeline) -> bytes:
    """The CSV formatted one cell at a time with the csv module (the format's definition)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(csv_write.HEADER)
    lanes = export_lanes(tl)
    args = derived_arg_texts(tl)
    queued, waiting = tl.queued_ns(), tl.waiting_ns()

    def t(col, i):
        return format_fixed(np.array([col[i] - tl.t0_ns]), SECONDS, np.array([col[i] >= 0]))[0]

    def d(col, i):
        return format_fixed(np.array([max(col[i], 0)]), MILLIS, np.array([col[i] >= 0]))[0]

    for i in range(tl.n_tasks):
        lane = int(tl.lane[i])
        writer.writerow([i, TASK_STATE_NAMES[tl.state[i]], csv_write.neutralise(reason_text(tl.texts.get(i))),
                         lanes[lane].pid if lane >= 0 else "", lane if lane >= 0 else "", int(tl.chunk[i]),
                         csv_write.neutralise(args[i]), t(tl.submitted_ns, i), t(tl.start_ns, i), t(tl.end_ns, i),
                         d(queued, i), d(tl.cpu_ns, i), d(tl.ready_ns, i), d(waiting, i)])
    return buf.getvalue().encode("utf-8", "backslashreplace")


@pytest.mark.parametrize("name", list(_timelines()))
def test_csv_is_the_row_by_row_text(name, small_chunks, monkeypatch):
    monkeypatch.setattr(csv_write, "CHUNK_BYTES", 4000)  # long reasons halve chunks down to one row
    tl = _timelines()[name]
    out = io.BytesIO()
    csv_write.write_csv(tl, out)
    assert out.getvalue() == _reference_csv(tl)


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f}"


def _ms_args(**ns: int) -> str:
    """The measured ones of ``ns`` as ms args (an unmeasured one, < 0, is left out)."""
    return "".join(f',"{key}":{_ms(value)}' for key, value in ns.items() if value >= 0)


def _reference_task_and_queue_events(tl: Timeline) -> list[str]:
    """Task slices, then queue spans (one per chunk), from the %-templates one event at a time."""
    layout = build_layout(export_lanes(tl))
    end_all = trace_end_ns(tl)
    pid_of, tid_of, track_of = chrome_events._lane_arrays(layout)
    ids = np.flatnonzero((tl.start_ns >= 0) & (tl.lane >= 0))
    lane = tl.lane[ids].astype(np.int64)
    start = tl.start_ns[ids]
    end = np.maximum(np.where(tl.end_ns[ids] >= 0, tl.end_ns[ids], end_all), start)
    new_start, new_end = clip_overlaps(track_of[lane], start, end)
    extras = chrome_events._task_extras(tl)
    queued, waiting = tl.queued_ns(), tl.waiting_ns()
    tasks = []
    for k, i in enumerate(ids.tolist()):
        st = int(tl.state[i])
        ts, dur = (new_start[k] - tl.t0_ns) / 1000.0, (new_end[k] - new_start[k]) / 1000.0
        tasks.append(chrome_events._X_TASK % (
            i, pid_of[lane[k]], tid_of[lane[k]], ts, dur, TASK_STATE_NAMES[st], tl.chunk[i],
            _ms_args(queued_ms=queued[i], cpu_ms=tl.cpu_ns[i], ready_ms=tl.ready_ns[i], waiting_ms=waiting[i]),
            extras.get(i, "") + (',"clipped":true' if new_start[k] != start[k] else ""),
            chrome_events._TASK_CNAME.get(st, "")))
    chunks: dict[int, list[int]] = {}  # chunk -> its submitted tasks
    for i in np.flatnonzero(tl.submitted_ns >= 0).tolist():
        chunks.setdefault(int(tl.chunk[i]), []).append(i)
    queue = []
    for c, members in chunks.items():
        sub = min(int(tl.submitted_ns[i]) for i in members)
        left = min(max(s if s >= 0 else (e if e >= 0 else end_all), int(tl.submitted_ns[i]))
                   for i, s, e in ((i, int(tl.start_ns[i]), int(tl.end_ns[i])) for i in members))
        pid, tid, ts = layout.parent_pid, layout.queue_tid, (sub - tl.t0_ns) / 1000.0
        queue.append(chrome_events._BEGIN % (c, pid, tid, ts, members[0]) if len(members) == 1 else
                     chrome_events._BEGIN_CHUNK % (c, pid, tid, ts, c, len(members)))
        queue.append(chrome_events._END % (c, pid, tid, (left - tl.t0_ns) / 1000.0))
    return tasks + queue


_STRING_OR_SPACES = re.compile(r'("(?:[^"\\]|\\.)*")| +')


@pytest.mark.parametrize("name", list(_timelines()))
def test_chrome_task_and_queue_events_are_the_template_text(name, small_chunks):
    tl = _timelines()[name]
    layout = build_layout(export_lanes(tl))
    end = trace_end_ns(tl)
    tasks = [*chrome_events.task_slices(tl, layout, end)]
    queue = [*chrome_events.queue_spans(tl, layout, end)]
    expected = _reference_task_and_queue_events(tl)
    text = b",\n".join(tasks + queue).decode()
    # Padding stays as JSON whitespace between tokens (never inside a string): without it, the text
    # is the template's; with it, every event is still valid JSON. (The queue's begin/end pairs
    # may come in another order than the reference's: order means nothing to viewers.)
    lines = _STRING_OR_SPACES.sub(lambda m: m[1] or "", text).split(",\n") if text else []
    n_tasks = len(expected) - 2 * len({int(tl.chunk[i]) for i in np.flatnonzero(tl.submitted_ns >= 0).tolist()})
    assert lines[:n_tasks] == expected[:n_tasks]
    assert _pairs(lines[n_tasks:]) == _pairs(expected[n_tasks:])
    assert [json.loads(line.rstrip(",")) for line in text.split("\n") if text] == [json.loads(e) for e in lines]
    assert len(tasks + queue) > 2 or not expected


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    """Queue events as (begin, end) pairs, sorted."""
    return sorted(zip(lines[::2], lines[1::2], strict=True))


def test_milliseconds_round_like_the_float_at_exact_halves():
    ns = np.array([0, 1, 499, 500, 501, 1500, 2500, 62_500, 187_500, 999_999_500, 123_456_789_500, 10**15 + 500])
    text = join_fields([chrome_events._ms_field(ns), b"\n"], len(ns)).decode().split("\n")[:-1]
    assert text == [_ms(int(v)) for v in ns]


def test_number_fields_are_python_text():
    rng = np.random.default_rng(3)
    values = np.r_[rng.integers(-10**15, 10**15, 500), [0, -1, 1, 9, 10, 99, 100, -999_999_999, 10**17]]
    known = rng.random(len(values)) > 0.2
    row = [int_field(values, known), b"|", fixed_field(values, 9, known), b"|", fixed_field(values, 3), b"|",
           hex_field(np.abs(values)), b"\n"]
    lines = join_fields(row, len(values)).decode().split("\n")[:-1]
    for v, ok, line in zip(values.tolist(), known.tolist(), lines, strict=True):
        sign = "-" if v < 0 else ""
        assert line.split("|") == [str(v) if ok else "", f"{sign}{abs(v) // 10**9}.{abs(v) % 10**9:09d}" if ok else "",
                                   f"{sign}{abs(v) // 1000}.{abs(v) % 1000:03d}", f"{abs(v):x}"]


# ---- readers: fast paths against strict paths ---------------------------------------------------


def _strict_csv(monkeypatch):
    monkeypatch.setattr(csv_read, "split_columns", lambda *a, **k: None)


@pytest.mark.parametrize("part_bytes", [None, 64])
@pytest.mark.parametrize("name", [*_timelines(), "exotic"])
def test_csv_fast_read_is_the_strict_read(name, part_bytes, tmp_path, monkeypatch):
    """(part_bytes: the fast path cuts the file in parts of a few rows, at line ends outside quotes.)"""
    if part_bytes:
        monkeypatch.setattr(csv_fast, "PART_BYTES", part_bytes)
    tl = build_timeline(n=300, k=5) if name == "exotic" else _timelines()[name]
    path = tmp_path / "t.csv"
    write_timeline(tl, path)
    data = path.read_bytes()
    cols = csv_read.split_columns(data, csv_read._HEADER_LINE, len(csv_write.HEADER), csv_read._FAST_INTS,
                                  csv_read._FAST_SIGNED, csv_read._FAST_TEXTS)
    assert (cols is not None) == (tl.n_tasks > 0)  # the fast path takes what procviz writes
    fast = read_timeline(path)
    _strict_csv(monkeypatch)
    assert_same_timeline(fast, read_timeline(path))


@pytest.mark.parametrize("edit", [
    lambda t: t.replace(",0.0", ",0.", 1),  # fewer decimals than procviz writes: read by the strict path
    lambda t: t.replace("\r\n1,", "\r\n0,", 1),  # a repeated id
    lambda t: t.replace(",done,", ",dune,", 1),  # an unknown state
    lambda t: t.replace(",done,", ',"done",', 1),  # a quoted state: still a state
    lambda t: t.replace("\r\n", "\n"),  # LF line ends
    lambda t: t.replace(",0.", ",-0.", 3),  # negative durations and times
    lambda t: t + "1,done\r\n",  # a short row
    lambda t: t.replace(",0.", ",9999999999.", 1),  # seconds whose nanoseconds overflow int64
    lambda t: t.replace(",0.", ",-9999999999.", 1),  # the same, negative
])
def test_csv_anything_unusual_reads_as_the_strict_path_reads_it(edit, tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_timeline(finished_run(300, lanes=2), path)
    path.write_bytes(edit(path.read_text(encoding="utf-8")).encode())

    def outcome():
        try:
            return read_timeline(path)
        except TimelineFileError as exc:
            return str(exc)

    fast = outcome()
    _strict_csv(monkeypatch)
    strict = outcome()
    if isinstance(strict, str):
        assert fast == strict
    else:
        assert_same_timeline(fast, strict)


def test_native_fast_read_is_the_strict_read(tmp_path, monkeypatch):
    for name, tl in _timelines().items():
        path = tmp_path / f"{name}.json"
        write_timeline(tl, path)
        _, columns = cut_task_columns(path.read_bytes())
        assert len(columns.by_marker) == 8 + bool(np.isfinite(tl.cost_ms).any()), name  # every task column
        fast = read_timeline(path)
        with monkeypatch.context() as m:
            m.setattr(read_module, "native_fast", lambda *a: None)
            assert_same_timeline(fast, read_timeline(path))


@pytest.mark.parametrize("old, new, field", [
    ('"start_ns":[', '"start_ns":[01,', "start_ns"),  # a leading zero: not JSON
    ('"lane":[', '"lane":[1e0,', "lane"),  # an exponent: a float where an integer must be
    ('"state":[', '"state":[99999999999999999999,', "state"),  # past int64
    ('"chunk":[', '"chunk":[-1,', "chunk"),  # out of range: refused from the array
])
def test_native_columns_the_fast_path_leaves_alone_are_refused_as_before(tmp_path, monkeypatch, old, new, field):
    path = tmp_path / "t.json"
    write_timeline(finished_run(50, lanes=2), path)
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(TimelineFileError) as fast:
        read_timeline(path)
    monkeypatch.setattr(read_module, "native_fast", lambda *a: None)
    with pytest.raises(TimelineFileError) as strict:
        read_timeline(path)
    assert str(fast.value) == str(strict.value)


def test_a_placeholder_written_into_a_file_is_never_taken_for_a_column(tmp_path):
    path = tmp_path / "t.json"
    write_timeline(finished_run(20, lanes=2), path)
    text = path.read_text()
    head, _, rest = text.partition('"chunk":[')
    forged = head + '"chunk":"\\u0000procviz-column:0000000000000000:6"' + rest[rest.index("]") + 1:]
    path.write_text(forged)
    with pytest.raises(TimelineFileError) as info:
        read_timeline(path)
    assert info.value.field == "chunk" and "must be a list" in info.value.problem


@pytest.mark.parametrize("strict", [False, True])
def test_csv_numbers_too_large_for_int64_are_refused_by_field(strict, tmp_path, monkeypatch):
    """The fast path once clamped them to 2**63-1 (numpy's parse) and the strict one raised a bare
    OverflowError: both now refuse the cell, naming its line and field."""
    path = tmp_path / "t.csv"
    write_timeline(finished_run(10, lanes=1), path)
    lines = path.read_bytes().decode().split("\r\n")
    cells = lines[1].split(",")
    cells[csv_write.HEADER.index("end_s")] = "9999999999.000000000"
    lines[1] = ",".join(cells)
    path.write_bytes("\r\n".join(lines).encode())
    if strict:
        _strict_csv(monkeypatch)
    with pytest.raises(TimelineFileError, match="end_s.*too large"):
        read_timeline(path)


def _json_numbers(body: str):
    """What a strict JSON reader makes of a list body, or None when it is not JSON."""
    import json

    try:
        return json.loads(f"[{body}]")
    except ValueError:
        return None


_PLAIN_BODIES = ["0", "-0", "7", "1,2,3", "0,0,0", "-1,0,-1", "10,-20,300", "9223372036854775806",
                 "-9223372036854775807", "0.0", "-0.0", "1.5,-2.25", "0.001,12.5", "123456789012345.6",
                 "1234567890123456.7", "0.30000000000000004"]
_OTHER_BODIES = ["5e-324", "1e5", "01", "-01", "00.5", "1.", ".5", "-.5", "--1", "1-2", "1,,2", ",1", "1,", "-",
                 "1.2.3,4", "1.2,3", "1,2.5", "0.1,.2", "3.0,-", "1.5,2.5.", "1,-0", "0,01"]


@pytest.mark.parametrize("body", _PLAIN_BODIES + _OTHER_BODIES)
def test_native_number_columns_parse_as_json_does(body):
    """Plain numbers are taken, and read as JSON reads them; anything else is left to the strict
    decoder (None), which refuses what JSON refuses."""
    values = json_columns._parse(body.encode())
    expected = _json_numbers(body)
    if body in _PLAIN_BODIES:
        assert values is not None, body
    if values is None:
        return
    assert expected is not None, body
    assert values.dtype == (np.int64 if all(type(v) is int for v in expected) else np.float64)
    assert [repr(v) for v in values.tolist()] == [repr(v) for v in expected], body


def test_native_decimal_columns_parse_exactly():
    """The mantissa / power-of-ten shortcut gives the correctly rounded double of every decimal."""
    rng = np.random.default_rng(7)
    values = np.r_[rng.random(3000) * 10.0 ** rng.integers(-6, 9, 3000), -rng.random(500), [0.0, -0.0, 1e-7, 0.1]]
    texts = [repr(float(v)) for v in values]
    body = ",".join(t for t in texts if "e" not in t)
    parsed = json_columns._parse(body.encode())
    assert parsed is not None
    assert [repr(v) for v in parsed.tolist()] == [repr(v) for v in _json_numbers(body)]


@pytest.mark.parametrize("seed", range(4))
def test_overlaps_clipped_in_task_order_as_by_the_full_sort(seed, monkeypatch):
    """Slices that come in start order per track (a worker's tasks by id) take the one-pass path;
    it gives what the (track, start, end) sort gives, overlaps, nested and zero-length ones included."""
    import procviz.engine.formats.overlap as overlap

    rng = np.random.default_rng(seed)
    n = 5000
    track = rng.integers(0, 7, n)
    start = np.empty(n, dtype=np.int64)
    for k in range(7):  # strictly increasing per track, in input order
        ids = np.flatnonzero(track == k)
        start[ids] = np.cumsum(rng.integers(1, 50, len(ids)))
    end = start + rng.integers(-5, 120, n)  # overlaps, nested slices, and ends before starts
    fast = overlap._clip_in_order(track, start, end)
    assert fast is not None
    monkeypatch.setattr(overlap, "_clip_in_order", lambda *a: None)
    full = overlap.clip_overlaps(track, start, end)
    assert np.array_equal(fast[0], full[0]) and np.array_equal(fast[1], full[1])
    assert (fast[0] != start).any()  # there was something to clip
    tied = track.copy()
    tied[1] = tied[0]
    start[1] = start[0]
    assert overlap._clip_in_order(tied, start, end) is None  # a tie: the full sort decides


@pytest.mark.parametrize("every", [0, 1, 7, 300])
def test_padding_is_removed_whatever_its_share(every):
    """Rows without padding, with a little (deleted NUL by NUL) and with much (deleted by table)."""
    from procviz.engine.formats.textcols import _squeezed

    rng = np.random.default_rng(every)
    mat = rng.integers(1, 256, (400, 37)).astype(np.uint8)
    if every:
        mat.reshape(-1)[::every] = 0
    assert _squeezed(mat) == mat.tobytes().translate(None, b"\0")


def test_json_padding_stays_whitespace_and_never_splits_a_number_from_its_sign():
    from procviz.engine.formats.textcols import join_json

    def rows(values):
        field = int_field(np.array(values))
        return bytes(join_json([b'{"a":', field, b',"b":', fixed_field(np.array(values), 3), b"},\n"], len(values),
                               trim=2)).decode()

    spaced = rows([5, 12345, 0])
    assert " " in spaced and "\0" not in spaced
    assert [json.loads(line.rstrip(",")) for line in spaced.split("\n")] == [
        {"a": 5, "b": 0.005}, {"a": 12345, "b": 12.345}, {"a": 0, "b": 0.0}]
    signed = rows([5, -12345, 0])  # a sign: the block is squeezed, exact text
    assert signed == '{"a":5,"b":0.005},\n{"a":-12345,"b":-12.345},\n{"a":0,"b":0.000}'


def test_a_rare_ms_arg_is_text_on_its_rows_not_a_padded_column(small_chunks, monkeypatch):
    tl = _timelines()["few ready times"]
    layout = build_layout(export_lanes(tl))
    end = trace_end_ns(tl)
    padded = b",\n".join(chrome_events.task_slices(tl, layout, end)).decode()
    monkeypatch.setattr(chrome_events, "SPARSE_SHARE", 1.0)  # (chunks of 5 rows: any share is rare now)
    text = b",\n".join(chrome_events.task_slices(tl, layout, end)).decode()
    events = [json.loads(line.rstrip(",")) for line in text.split("\n")]
    expected = [json.loads(e) for e in _reference_task_and_queue_events(tl)[:len(events)]]
    assert events == expected  # (the same args; a rare one after the others)
    assert sum("ready_ms" in e["args"] for e in events) == int((tl.ready_ns[tl.start_ns >= 0] >= 0).sum()) > 0
    assert len(text) < len(padded)  # (no column of padding for the rows without it)
