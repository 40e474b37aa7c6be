"""CSV timeline files: exact header, exact times, formula neutralising, strict reading."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from synthetic import build_timeline

from procviz.engine.events import TaskState
from procviz.engine.formats import TimelineFileError, read_timeline, write_timeline
from procviz.engine.formats.csv_write import HEADER
from procviz.engine.formats.model import derived_arg_texts, reason_text

HEADER_LINE = "id,state,reason,pid,lane,chunk,args,submitted_s,start_s,end_s,queued_ms,cpu_ms,ready_ms,waiting_ms"


def _write(tmp_path, tl, name="run.csv"):
    path = tmp_path / name
    write_timeline(tl, path)
    return path


def _rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_header_and_one_row_per_task(tmp_path):
    tl = build_timeline(exotic=False)
    path = _write(tmp_path, tl)
    assert path.read_bytes().startswith(HEADER_LINE.encode() + b"\r\n")
    rows = _rows(path)
    assert tuple(rows[0]) == HEADER and len(rows) == tl.n_tasks + 1
    assert [int(r[0]) for r in rows[1:]] == list(range(tl.n_tasks))


def test_cells_state_names_times_and_empty_unknowns(tmp_path):
    tl = build_timeline(exotic=False)
    rows = {int(r[0]): dict(zip(HEADER, r, strict=True)) for r in _rows(_write(tmp_path, tl))[1:]}
    done = rows[1]
    assert done["state"] == "done" and done["pid"] == "4101" and done["lane"] == "1"
    assert done["start_s"] == f"{(tl.start_ns[1] - tl.t0_ns) // 10**9}.{(tl.start_ns[1] - tl.t0_ns) % 10**9:09d}"
    assert done["cpu_ms"] == f"{tl.cpu_ns[1] // 10**6}.{tl.cpu_ns[1] % 10**6:06d}"
    pending = rows[tl.n_tasks - 1]
    assert pending["state"] == "pending"
    assert pending["submitted_s"] == pending["start_s"] == pending["pid"] == pending["lane"] == ""
    assert rows[3]["reason"] == "ValueError: bad value 3"
    assert rows[0]["ready_ms"] == ""  # not measured: empty, never 0 or -1
    names = {r["state"] for r in rows.values()}
    assert names == {"done", "failed", "timeout", "cancelled", "running", "queued", "pending"}


def test_round_trip_same_tasks(tmp_path):
    tl = build_timeline(n=120, k=4, exotic=False)
    path = _write(tmp_path, tl)
    back = read_timeline(path)
    assert back.n_tasks == tl.n_tasks
    for name in ("state", "lane", "chunk", "cpu_ns", "ready_ns"):
        assert np.array_equal(getattr(back, name), getattr(tl, name)), name
    for name in ("submitted_ns", "start_ns", "end_ns"):  # exact to the ns, relative to the run start
        a, b = getattr(tl, name), getattr(back, name)
        assert np.array_equal(a >= 0, b >= 0), name
        assert np.array_equal(a[a >= 0] - tl.t0_ns, b[b >= 0] - back.t0_ns), name
    pid = lambda t, i: t.lanes[t.lane[i]].pid if t.lane[i] >= 0 else None  # noqa: E731
    assert [pid(back, i) for i in range(tl.n_tasks)] == [pid(tl, i) for i in range(tl.n_tasks)]
    assert [reason_text(back.texts.get(i)) for i in range(tl.n_tasks)] == \
        [reason_text(tl.texts.get(i)) for i in range(tl.n_tasks)]
    assert derived_arg_texts(back) == derived_arg_texts(tl)
    again = _write(tmp_path, back, "again.csv")
    assert again.read_bytes() == path.read_bytes()


def test_formula_cells_neutralised_numbers_untouched(tmp_path):
    tl = build_timeline(exotic=False)
    tl.submitted_ns[0] = tl.t0_ns - 5 * 10**9  # a genuinely negative number: 5 s before the run start
    path = _write(tmp_path, tl)
    rows = {int(r[0]): dict(zip(HEADER, r, strict=True)) for r in _rows(path)[1:]}
    assert rows[10]["reason"] == "'=1+2"
    assert rows[17]["reason"] == "'@cmd"
    assert rows[1]["args"] == "'-5" and rows[2]["args"] == "'@SUM(A1)" and rows[3]["args"] == "'+1"
    assert rows[4]["args"] == "''quoted"  # a leading quote is doubled so reading strips exactly one
    assert rows[0]["submitted_s"] == "-5.000000000"
    for row in rows.values():
        for name in HEADER[7:]:
            assert not row[name].startswith("'"), name
    back = read_timeline(path)
    assert back.texts[10].message == "=1+2" and derived_arg_texts(back)[1:5] == ["-5", "@SUM(A1)", "+1", "'quoted"]
    assert back.submitted_ns[0] - back.t0_ns == -5 * 10**9 and back.submitted_ns.min() >= -1


def test_tab_cr_and_nul_starts_neutralised_and_no_nul_bytes(tmp_path):
    from procviz.engine.formats.csv_write import neutralise

    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("\0x") == "'\u2400x" and neutralise("a\0b") == "a\u2400b" and neutralise("ok") == "ok"
    path = _write(tmp_path, build_timeline(exotic=True))  # has a NUL and a lone surrogate in a message
    data = path.read_bytes()
    assert b"\0" not in data
    assert "name \\udc80 undecodable, \u2400 nul".encode() in data
    assert read_timeline(path).n_tasks == 60


def test_quotes_commas_newlines_survive(tmp_path):
    back = read_timeline(_write(tmp_path, build_timeline(exotic=False)))
    assert back.texts[24].type_name == "Weird" and back.texts[24].message == 'has "quotes", commas\nand lines'
    assert derived_arg_texts(back)[5:8] == ['comma, "quote"', "line\nbreak", "ünïcode ✓"]


# ---- refusals -------------------------------------------------------------------------------------


def _good_text(tmp_path):
    return _write(tmp_path, build_timeline(exotic=False), "good.csv").read_bytes().decode("utf-8")


def _refused(tmp_path, text, record, field=""):
    path = tmp_path / "bad.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(TimelineFileError) as info:
        read_timeline(path)
    err = info.value
    assert err.path == str(path) and err.record == record and err.field == field, str(err)
    assert str(path) in str(err) and record in str(err) and field in str(err)
    return err


def _replace_line(text, index, line):
    lines = text.split("\r\n")
    lines[index] = line
    return "\r\n".join(lines)


def test_refuses_nul_byte(tmp_path):
    text = _good_text(tmp_path)
    lines = text.split("\r\n")
    lines[3] = lines[3].replace("done", "do\0ne", 1)
    err = _refused(tmp_path, "\r\n".join(lines), "line 4")
    assert "NUL" in str(err)


def test_refuses_wrong_delimiter(tmp_path):
    text = _good_text(tmp_path).replace(",", ";")
    err = _refused(tmp_path, text, "line 1")
    assert "';'" in str(err) and "commas" in str(err)


def test_refuses_broken_quoting(tmp_path):
    text = _good_text(tmp_path)
    line = text.split("\r\n")[2]
    broken = line.replace('"(1,)"', '"(1,)"x', 1) if '"(1,)"' in line else line + ',"x"y'
    _refused(tmp_path, _replace_line(text, 2, broken), "line 3")


def test_refuses_unterminated_quote(tmp_path):
    text = _good_text(tmp_path).rstrip("\r\n") + '\r\n1,done,"never closed'
    _refused(tmp_path, text, f"line {text.count(chr(10)) + 1}")


def test_refuses_missing_and_renamed_columns(tmp_path):
    text = _good_text(tmp_path)
    _refused(tmp_path, _replace_line(text, 0, HEADER_LINE.replace(",waiting_ms", "")), "line 1", "waiting_ms")
    _refused(tmp_path, _replace_line(text, 0, HEADER_LINE.replace("cpu_ms", "cpu")), "line 1", "cpu_ms")


def test_refuses_row_with_wrong_cell_count(tmp_path):
    text = _good_text(tmp_path)
    line = text.split("\r\n")[5]
    err = _refused(tmp_path, _replace_line(text, 5, line + ",extra"), "line 6")
    assert "15 cells" in str(err)


def test_refuses_bad_numbers(tmp_path):
    text = _good_text(tmp_path)
    rows = text.split("\r\n")

    def with_cell(row, name, value):
        cells = next(csv.reader(io.StringIO(rows[row])))
        cells[HEADER.index(name)] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        return _replace_line(text, row, buf.getvalue())

    _refused(tmp_path, with_cell(2, "start_s", "1e3"), "line 3", "start_s")
    _refused(tmp_path, with_cell(2, "start_s", "0.1234567891"), "line 3", "start_s")  # beyond ns
    _refused(tmp_path, with_cell(2, "cpu_ms", "-1.000000"), "line 3", "cpu_ms")  # negative duration
    _refused(tmp_path, with_cell(2, "pid", "12a"), "line 3", "pid")
    _refused(tmp_path, with_cell(2, "state", "finished"), "line 3", "state")
    _refused(tmp_path, with_cell(2, "end_s", "0.000000001"), "line 3", "end_s")  # end < start
    _refused(tmp_path, with_cell(2, "id", "0"), "line 3", "id")  # task 0 twice
    _refused(tmp_path, with_cell(2, "id", "999"), "line 3", "id")  # out of range
    _refused(tmp_path, with_cell(2, "lane", ""), "line 3", "lane")  # pid without lane
    _refused(tmp_path, with_cell(5, "pid", "1"), "line 6", "pid")  # lane 1 has pid 4101 on line 3


def test_refuses_empty_file(tmp_path):
    _refused(tmp_path, "", "line 1")


def test_reads_tasks_in_any_row_order(tmp_path):
    text = _good_text(tmp_path)
    lines = text.rstrip("\r\n").split("\r\n")
    header, body = lines[0], lines[1:]
    # Rows with embedded newlines span two physical lines; shuffle whole records instead.
    records = list(csv.reader(io.StringIO("\r\n".join(body), newline="")))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(records[::-1])
    path = tmp_path / "reversed.csv"
    path.write_text(header + "\r\n" + buf.getvalue(), encoding="utf-8", newline="")
    back = read_timeline(path)
    original = read_timeline(tmp_path / "good.csv")
    assert np.array_equal(back.state, original.state) and np.array_equal(back.start_ns, original.start_ns)
    assert back.state[3] == TaskState.FAILED


def test_hand_edited_decimals_are_read_exactly(tmp_path):
    text = _good_text(tmp_path)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows[1][HEADER.index("submitted_s")] = "0.5"  # fewer decimals than procviz writes
    rows[1][HEADER.index("start_s")] = "1"
    rows[1][HEADER.index("end_s")] = "1.25"
    rows[1][HEADER.index("cpu_ms")] = "0.001"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "edited.csv"
    path.write_bytes(buf.getvalue().encode("utf-8"))
    back = read_timeline(path)
    assert back.submitted_ns[0] - back.t0_ns == 500_000_000
    assert back.start_ns[0] - back.t0_ns == 1_000_000_000 and back.end_ns[0] - back.t0_ns == 1_250_000_000
    assert back.cpu_ns[0] == 1_000


def test_a_bom_from_a_spreadsheet_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _good_text(tmp_path).encode("utf-8"))
    assert read_timeline(path).n_tasks == 60



def test_text_cells_are_quoted_as_the_csv_module_quotes_them():
    """csv_write.quoted_cell quotes without a csv writer per cell; the csv module is the reference."""
    import csv
    import io
    import random

    from procviz.engine.formats import csv_write

    def by_csv_module(text: str) -> bytes:
        buf = io.StringIO(newline="")
        csv.writer(buf, lineterminator="\r\n").writerow([csv_write.neutralise(text), ""])
        return buf.getvalue()[: -len(",\r\n")].encode("utf-8", "backslashreplace")

    rnd = random.Random(1)
    alphabet = ["a", ",", '"', "\r", "\n", " ", "\t", "\0", "=", "+", "-", "@", "'", "é", "\udc80", "\x7f", "\u2028"]
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 7)))
        assert csv_write.quoted_cell(text) == by_csv_module(text), repr(text)


def test_a_file_cut_in_its_last_row_is_refused_and_one_without_crlf_is_not(tmp_path):
    """procviz ends every row with CRLF: a file whose rows do, but not its last, was cut, and its
    last row would be read with a cut number (a waiting of 20.194338 ms as 20.19)."""
    data = _write(tmp_path, build_timeline(exotic=False)).read_bytes()
    assert data.endswith(b"\r\n")
    cut = tmp_path / "cut.csv"
    for end in (len(data) - 2, len(data) - 5, data.index(b"\r\n") + 10):
        cut.write_bytes(data[:end])
        with pytest.raises(TimelineFileError, match="ends in the middle of a row"):
            read_timeline(cut)
    by_hand = tmp_path / "by_hand.csv"  # a CSV made elsewhere, LF ends and none after its last row
    by_hand.write_bytes(data.replace(b"\r\n", b"\n")[:-1])
    assert read_timeline(by_hand).n_tasks == read_timeline(_write(tmp_path, build_timeline(exotic=False))).n_tasks


def test_a_cell_of_a_megabyte_is_read_in_a_few_numpy_steps(tmp_path, monkeypatch):
    """An edited file's long cell was blanked 8 bytes a numpy pass: 2 s a megabyte, minutes for a
    file under the size limit. The cell still reads back whole."""
    from procviz.engine.formats import csv_fast

    path = _write(tmp_path, build_timeline(exotic=False))
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    long_text = "x" * (1 << 20)
    rows[1][HEADER.index("args")] = long_text  # (the row of task 0)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    steps: list[int] = []
    real = csv_fast._low_bytes
    monkeypatch.setattr(csv_fast, "_low_bytes", lambda count: steps.append(1) or real(count))
    tl = read_timeline(path)
    assert tl.run is not None and tl.run.arg_texts[int(rows[1][0])] == long_text
    assert steps and len(steps) < 1000, len(steps)  # (the fast path ran; not a pass per 8 bytes)


def test_the_content_decides_the_kind_not_the_name(tmp_path):
    # A CSV saved under a .json name reads as the CSV it is (as a JSON timeline named .csv does);
    # a .json that is neither JSON nor a procviz CSV is still called "not JSON", not a bad CSV.
    tl = build_timeline()
    csv_path = tmp_path / "t.csv"
    write_timeline(tl, csv_path)
    renamed = tmp_path / "t.json"
    renamed.write_bytes(csv_path.read_bytes())
    back = read_timeline(renamed)
    assert back.n_tasks == read_timeline(csv_path).n_tasks == tl.n_tasks
    json_as_csv = tmp_path / "u.csv"
    write_timeline(tl, tmp_path / "u.json")
    json_as_csv.write_bytes((tmp_path / "u.json").read_bytes())
    assert read_timeline(json_as_csv).n_tasks == tl.n_tasks
    other = tmp_path / "notes.json"
    other.write_text("id;state\n1;done\n")
    with pytest.raises(TimelineFileError, match="is not JSON"):
        read_timeline(other)
    cut = tmp_path / "cut.json"
    cut.write_bytes(csv_path.read_bytes()[:-5])  # a procviz CSV cut short: the CSV reader says where
    with pytest.raises(TimelineFileError, match="line"):
        read_timeline(cut)
