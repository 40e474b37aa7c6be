"""Reading a procviz CSV back: the task table only, checked cell by cell.

The header must be exactly :data:`HEADER`. Refused, each naming the line and the column: NUL
bytes, another delimiter, broken quoting, a row with too few or too many cells, numbers that are
not plain decimal numbers (at most 9 decimals for seconds, 6 for milliseconds), unknown states,
ids that are not exactly 0..n-1 once each, an end before its start, negative durations, a lane
with two different pids.

What comes back: a Timeline with the tasks, their failure reasons (as error texts without
traceback), one lane per lane number used (pid from the file, kind "process"), and a run with
no config. The CSV has times relative to the run start; the rebuilt run starts at 0 ns, or later
when a time in the file is negative, so every time stays a valid non-negative nanosecond count.
"""

from __future__ import annotations

import csv
import io
import re
from typing import NoReturn

import numpy as np

from procviz.engine.events import INTERVAL_DTYPE, RESOURCE_DTYPE, SPAN_DTYPE, LaneInfo, LaneKind, RunInfo, TaskText
from procviz.engine.formats.checks import INT32_MAX, WALL_SLACK_NS
from procviz.engine.formats.csv_fast import FastColumns, split_columns
from procviz.engine.formats.csv_write import HEADER
from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.fixed_point import MILLIS, SECONDS, fixed_pattern, parse_fixed
from procviz.engine.formats.model import TASK_STATE_NAMES, placeholder_lane
from procviz.engine.timeline import Timeline

COL = {name: i for i, name in enumerate(HEADER)}
UNSIGNED = re.compile(r"[0-9]{1,18}")
SECONDS_CELL = fixed_pattern(SECONDS, signed=True)
MILLIS_CELL = fixed_pattern(MILLIS, signed=False)
# What procviz itself writes: exactly 9 / 6 decimals (the fast path of _fixed).
SECONDS_EXACT = fixed_pattern(SECONDS, signed=True, exact=True)
MILLIS_EXACT = fixed_pattern(MILLIS, signed=False, exact=True)
REASON_SPLIT = re.compile(r"([A-Za-z_][\w.]*): (.*)", re.DOTALL)
# Lanes are numbered densely by the engine, and a run opens at most one lane per task plus its
# pool's workers; a larger lane number is not from procviz and would only make us allocate.
LANE_SLACK = 4096

INT64_MAX = 2**63 - 1  # the columns are int64: a larger value is refused, never wrapped or clamped


class _Rows:
    """The data rows of the file as columns of cells, with the file line of each row."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.text = text
        rows: list[list[str]] = []
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            header = next(reader, None)
            self._check_header(header)
            rows.extend(reader)  # a C loop; line numbers are worked out again only for an error
        except csv.Error as exc:
            self.fail(reader.line_num, "", f"broken CSV quoting: {exc}")
        if set(map(len, rows)) - {len(HEADER)}:
            i = next(i for i, row in enumerate(rows) if len(row) != len(HEADER))
            self.fail_row(i, "", f"has {len(rows[i])} cells; expected {len(HEADER)}"
                          + (" (an empty line?)" if not rows[i] else ""))
        self.columns = list(zip(*rows, strict=True)) if rows else [() for _ in HEADER]
        self.n = len(rows)

    def fail(self, line: int, field: str, problem: str) -> NoReturn:
        """Refuse the file at ``line``."""
        raise TimelineFileError(self.path, f"line {line}", field, problem)

    def fail_row(self, i: int, field: str, problem: str) -> NoReturn:
        """Refuse the file at data row ``i`` (0 = the first row after the header)."""
        self.fail(self.line_of(i), field, problem)

    def line_of(self, i: int) -> int:
        """The file line where data row ``i`` ends (rows can span lines: quoted newlines)."""
        reader = csv.reader(io.StringIO(self.text, newline=""))
        next(reader)
        for k, _ in enumerate(reader):
            if k == i:
                return reader.line_num
        return reader.line_num

    def _check_header(self, header: list[str] | None) -> None:
        if header is None:
            self.fail(1, "", "the file is empty; expected the header " + ",".join(HEADER))
        if tuple(header) == HEADER:
            return
        if len(header) == 1:
            for sep in (";", "\t", "|"):
                if sep in header[0]:
                    self.fail(1, "", f"the columns are separated by {sep!r}; procviz CSV uses commas")
        for i, expected in enumerate(HEADER):
            got = header[i] if i < len(header) else None
            if got != expected:
                what = "is missing" if got is None else f"is {got!r}"
                self.fail(1, expected, f"header column {i + 1} {what}; expected: {','.join(HEADER)}")
        self.fail(1, header[len(HEADER)], f"extra header column {header[len(HEADER)]!r}; expected: {','.join(HEADER)}")

    def cells(self, name: str) -> tuple[str, ...]:
        """The cells of one column."""
        return self.columns[COL[name]]

    def matching(self, name: str, pattern: re.Pattern[str], what: str, optional: bool) -> tuple[str, ...]:
        """The column's cells after checking each is empty (when ``optional``) or matches ``pattern``."""
        cells = self.cells(name)
        # One regex over the whole column (NUL-separated: no cell can hold a NUL) is fast; the
        # per-cell scan below runs only to name the first bad cell.
        cell = f"(?:{pattern.pattern}){'?' if optional else ''}"
        column = re.compile(f"{cell}(?:\\x00{cell})*")
        if cells and column.fullmatch("\0".join(cells)) is None:
            for i, cell in enumerate(cells):
                if not ((optional and cell == "") or pattern.fullmatch(cell)):
                    self.fail_row(i, name, f"must be {what}{' or empty' if optional else ''} (got {cell!r})")
        return cells

    def texts(self, name: str) -> tuple[list[str], np.ndarray]:
        """A text column as its distinct cells and each row's index into them."""
        lookup: dict[str, int] = {}
        index = [lookup.setdefault(c, len(lookup)) for c in self.cells(name)]
        return list(lookup) or [""], np.array(index, dtype=np.intp)

    def ints(self, name: str, what: str, optional: bool = True) -> np.ndarray:
        """An integer column (-1 for empty cells when ``optional``)."""
        cells = self.matching(name, UNSIGNED, what, optional)
        return self._int64([int(c) if c else -1 for c in cells], name)

    def fixed(self, name: str, digits: int, what: str) -> tuple[np.ndarray, np.ndarray]:
        """A decimal column as integer units of 10**-digits, and where it is known (non-empty)."""
        exact, loose = (SECONDS_EXACT, SECONDS_CELL) if digits == SECONDS else (MILLIS_EXACT, MILLIS_CELL)
        cells = self.cells(name)
        known = np.array([c != "" for c in cells], dtype=bool)
        # Fast path: procviz writes every known cell with exactly ``digits`` decimals, so dropping the
        # point gives the integer directly; anything else is checked and parsed cell by cell.
        column = re.compile(f"(?:{exact.pattern})?(?:\\x00(?:{exact.pattern})?)*")
        if not cells or column.fullmatch("\0".join(cells)):
            values = [int(c.replace(".", "")) if c else 0 for c in cells]
        else:
            values = [parse_fixed(c, digits) if c else 0 for c in self.matching(name, loose, what, optional=True)]
        return self._int64(values, name), known

    def _int64(self, values: list[int], name: str) -> np.ndarray:
        """``values`` as an int64 column, refusing (by row and field) one too large to hold."""
        if values and (max(values) > INT64_MAX or min(values) < -INT64_MAX - 1):
            i = next(i for i, v in enumerate(values) if not -INT64_MAX - 1 <= v <= INT64_MAX)
            self.fail_row(i, name, "is too large (the limit is about 292 years, or 2**63-1 units)")
        return np.array(values, dtype=np.int64)


class _NotFast(Exception):
    """The fast path met something to refuse: the strict path reads the file again to name it."""


class _FastRows:
    """The same questions as :class:`_Rows`, answered from columns csv_fast cut with numpy; any
    refusal sends the file to the strict path (which words it with the row and field)."""

    def __init__(self, cols: FastColumns) -> None:
        self.cols = cols
        self.n = cols.n

    def fail_row(self, i: int, field: str, problem: str) -> NoReturn:
        """Refusals are worded by the strict path."""
        raise _NotFast

    def cells(self, name: str) -> tuple[str, ...]:
        """Cell text is there for error messages only: the strict path's."""
        raise _NotFast

    def line_of(self, i: int) -> int:
        """Line numbers are for error messages only: the strict path's."""
        raise _NotFast

    def texts(self, name: str) -> tuple[list[str], np.ndarray]:
        """A text column as its distinct cells and each row's index into them."""
        return self.cols.texts[COL[name]]

    def ints(self, name: str, what: str, optional: bool = True) -> np.ndarray:
        """An integer column (-1 for empty cells when ``optional``)."""
        value, known = self.cols.ints[COL[name]]
        if not known.all():
            if not optional:
                raise _NotFast
            value = np.where(known, value, -1)
        return value

    def fixed(self, name: str, digits: int, what: str) -> tuple[np.ndarray, np.ndarray]:
        """A decimal column as integer units of 10**-digits, and where it is known."""
        return self.cols.ints[COL[name]]


_FAST_INTS = {**{COL[c]: None for c in ("id", "pid", "lane", "chunk")},
              **{COL[c]: SECONDS for c in ("submitted_s", "start_s", "end_s")},
              **{COL[c]: MILLIS for c in ("queued_ms", "cpu_ms", "ready_ms", "waiting_ms")}}
_FAST_SIGNED = {COL[c] for c in ("submitted_s", "start_s", "end_s")}
_FAST_TEXTS = {COL[c] for c in ("state", "reason", "args")}
_HEADER_LINE = (",".join(HEADER) + "\r\n").encode()


def timeline_from_csv(text: str, path: str) -> Timeline:
    """Validate a procviz CSV and build its Timeline (raises TimelineFileError)."""
    nul = text.find("\0")
    if nul >= 0:
        raise TimelineFileError(path, f"line {text.count(chr(10), 0, nul) + 1}", "",
                                "contains a NUL byte; procviz CSV never does")
    first_end = text.find("\n")
    if 0 < first_end < len(text) - 1 and text[first_end - 1] == "\r" and not text.endswith("\n"):
        # Rows ended by CRLF, as procviz writes them, but not the last: the file was cut, and its
        # last row read as it stands would be a task with a cut number (20.19 for 20.194338).
        raise TimelineFileError(path, f"line {text.count(chr(10)) + 1}", "",
                                "ends in the middle of a row: the file was cut (procviz ends every row with CRLF)")
    return _timeline(_Rows(text, path))


def timeline_from_csv_bytes(data: bytes) -> Timeline | None:
    """The fast path (csv_fast) for a file exactly as procviz writes it, straight from its bytes;
    None when it does not apply or finds something to refuse: then decode the file and call
    :func:`timeline_from_csv`, which words every refusal with the row and field."""
    if b"\0" in data:
        return None
    cols = split_columns(data.removeprefix(b"\xef\xbb\xbf"), _HEADER_LINE, len(HEADER), _FAST_INTS, _FAST_SIGNED,
                         _FAST_TEXTS)
    if cols is None:
        return None
    try:
        return _timeline(_FastRows(cols))
    except _NotFast:
        return None


def _timeline(rows: _Rows | _FastRows) -> Timeline:
    ids = rows.ints("id", "a task id (0, 1, ...)", False)
    _check_ids(rows, ids)
    # Rows may come in any order; the Timeline is by id (procviz writes them in order).
    in_order = bool((ids == np.arange(len(ids))).all())
    order = np.arange(len(ids)) if in_order else np.argsort(ids, kind="stable")
    lane = rows.ints("lane", "a lane number")
    lanes = _lanes(rows, lane, rows.ints("pid", "a process id"))
    t0, columns = _task_columns(rows, lane)
    if not in_order:
        columns = {name: col[order] for name, col in columns.items()}
    # Undo the writer's neutralising quote (U+2400 stays: NUL is not stored, see csv_write).
    reasons, reason_of = rows.texts("reason")
    reasons = _unneutralised(reasons)
    args, arg_of = rows.texts("args")
    args = _unneutralised(args)
    texts = {}
    has_reason = np.array([bool(r) for r in reasons])[reason_of]
    # A reason several tasks have word for word (a Stop's, a lost chunk's) is one shared text
    # (task_id -1), as the engine made it (see native_read._texts).
    uses = np.bincount(reason_of[has_reason], minlength=len(reasons))
    shared: dict[int, TaskText] = {}
    for i in sorted(np.flatnonzero(has_reason).tolist(), key=lambda i: ids[i]):
        which = int(reason_of[i])
        text = shared.get(which)
        if text is None:
            reason = reasons[which]
            match = REASON_SPLIT.fullmatch(reason)
            type_name, message = match.groups() if match else ("", reason)
            text = TaskText(-1 if uses[which] > 1 else int(ids[i]), "error", type_name, message)
            if uses[which] > 1:
                shared[which] = text
        texts[int(ids[i])] = text
    known = [c[c >= 0] for c in (columns["submitted_ns"], columns["start_ns"], columns["end_ns"])]
    now = max([t0] + [int(c.max()) for c in known if len(c)])
    run = RunInfo(n_tasks=rows.n, t0_ns=t0, config={}, host="", cpu_count=0,
                  schedstat=bool((columns["ready_ns"] >= 0).any()),
                  arg_texts=tuple(map(args.__getitem__, arg_of[order].tolist())) if any(args) else ())
    timeline = Timeline()
    timeline.load_columns(run, lanes, columns, texts, np.zeros(0, INTERVAL_DTYPE), np.zeros(0, RESOURCE_DTYPE),
                          np.zeros(0, SPAN_DTYPE), [], None, now, adopt=True)
    return timeline


def _unneutralised(cells: list[str]) -> list[str]:
    """Cells without the writer's neutralising quote."""
    return [c[1:] if c[:1] == "'" else c for c in cells]


def _task_columns(rows: _Rows | _FastRows, lane: np.ndarray) -> tuple[int, dict[str, np.ndarray]]:
    """The run start chosen for the file and the Timeline task columns, in file row order."""
    codes = {name: code for code, name in enumerate(TASK_STATE_NAMES)}
    words, word_of = rows.texts("state")
    state = np.array([codes.get(word, 255) for word in words], dtype=np.uint8)[word_of]
    if (state == 255).any():
        i = int(np.flatnonzero(state == 255)[0])
        rows.fail_row(i, "state", f"must be one of {', '.join(TASK_STATE_NAMES)} (got {rows.cells('state')[i]!r})")
    chunk = rows.ints("chunk", "a chunk number", optional=False)
    if len(chunk) and chunk.max() > INT32_MAX:
        rows.fail_row(int(np.argmax(chunk)), "chunk", f"must be at most {INT32_MAX}")
    times = {name: rows.fixed(name, SECONDS, "seconds from the run start")
             for name in ("submitted_s", "start_s", "end_s")}
    # queued_ms and waiting_ms are derived (Timeline computes them): checked here, not stored.
    durations = {name: rows.fixed(name, MILLIS, "milliseconds >= 0")
                 for name in ("queued_ms", "cpu_ms", "ready_ms", "waiting_ms")}
    (start, has_start), (end, has_end) = times["start_s"], times["end_s"]
    bad = has_start & has_end & (end < start)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rows.fail_row(i, "end_s", f"ends before it starts ({rows.cells('end_s')[i]} < {rows.cells('start_s')[i]})")
    cpu, has_cpu = durations["cpu_ms"]
    bad = has_start & has_end & has_cpu & (cpu > end - start + WALL_SLACK_NS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rows.fail_row(i, "cpu_ms", f"is longer than the task ({rows.cells('cpu_ms')[i]} ms > end_s - start_s)")
    # Times are relative to the run start; put the start where every time stays >= 0 (-1 = unknown).
    known_rel = np.concatenate([value[known] for value, known in times.values()])
    t0 = max(0, -int(known_rel.min())) if len(known_rel) else 0
    columns = {
        **{f"{name[:-2]}_ns": np.where(known, value + t0, -1) for name, (value, known) in times.items()},
        "cpu_ns": np.where(durations["cpu_ms"][1], durations["cpu_ms"][0], -1),
        "ready_ns": np.where(durations["ready_ms"][1], durations["ready_ms"][0], -1),
        "lane": lane.astype(np.int32), "state": state, "chunk": chunk.astype(np.int32),
        "cost_ms": np.full(rows.n, np.nan),
    }
    return t0, columns


def _check_ids(rows: _Rows | _FastRows, ids: np.ndarray) -> None:
    n = rows.n
    if not n:
        return
    if ids.max() >= n:
        i = int(np.argmax(ids >= n))
        rows.fail_row(i, "id", f"is {int(ids[i])}, but the file has {n} tasks: ids must be 0..{n - 1}")
    if ids.min() >= 0 and (ids == np.arange(n)).all():
        return  # 0..n-1 in order, as procviz writes them (no sort needed to see they are distinct)
    _, first = np.unique(ids, return_index=True)
    if len(first) != n:
        repeat = np.ones(n, dtype=bool)
        repeat[first] = False
        i = int(np.flatnonzero(repeat)[0])
        j = int(np.flatnonzero(ids == ids[i])[0])
        rows.fail_row(i, "id", f"task {int(ids[i])} appears twice (first on line {rows.line_of(j)})")


def _lanes(rows: _Rows | _FastRows, lane: np.ndarray, pid: np.ndarray) -> list[LaneInfo]:
    mismatch = (lane >= 0) != (pid >= 0)
    if mismatch.any():
        i = int(np.flatnonzero(mismatch)[0])
        field = "pid" if lane[i] >= 0 else "lane"
        rows.fail_row(i, field, "lane and pid must both be given or both be empty")
    limit = rows.n + LANE_SLACK
    if len(lane) and lane.max() >= limit:
        i = int(np.argmax(lane))
        rows.fail_row(i, "lane", f"is {int(lane[i])}; a file with {rows.n} tasks has lanes below {limit}")
    # Every row must repeat the pid of its lane's first row (no sort: lanes are small numbers).
    at = np.flatnonzero(lane >= 0)
    first_row = np.full(int(lane.max()) + 1 if len(at) else 0, rows.n, dtype=np.int64)
    np.minimum.at(first_row, lane[at], at)
    differs = pid[at] != pid[first_row[lane[at]]]
    if differs.any():
        i = int(at[np.argmax(differs)])
        j = int(first_row[lane[i]])
        rows.fail_row(i, "pid", f"lane {int(lane[i])} has pid {int(pid[j])} on line {rows.line_of(j)} "
                      f"but {int(pid[i])} here")
    used = np.flatnonzero(first_row < rows.n)
    pid_of = dict(zip(used.tolist(), pid[first_row[used]].tolist(), strict=True))
    count = max(pid_of) + 1 if pid_of else 0
    return [LaneInfo(index=i, pid=pid_of[i], tid=pid_of[i], kind=LaneKind.PROCESS, name=f"worker {i}")
            if i in pid_of else placeholder_lane(i) for i in range(count)]
