"""Writing the CSV file: one row per task, for spreadsheets and scripts.

Columns (``HEADER``, exactly this order): ``id, state, reason, pid, lane, chunk, args, submitted_s,
start_s, end_s, queued_ms, cpu_ms, ready_ms, waiting_ms``.

* Times are seconds from the run start with 9 decimals and durations milliseconds with 6, both
  exact decimal renderings of the engine's nanoseconds (so a CSV read back gives the same ns);
  an empty cell means unknown (never started, not measured). Numeric cells are never altered.
* ``state`` is a word (done, failed, timeout, cancelled, running, queued, pending); ``reason`` is
  the failure's ``"Type: message"`` (tracebacks are in the native file only); ``args`` the task's
  arguments as shown in the GUI.
* Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab, CR or NUL)
  get a leading ``'``; so do cells already starting with ``'``, so that a reader strips exactly one
  quote and gets the text back. NUL characters become U+2400 (a CSV never contains NUL bytes).
* UTF-8 without BOM, comma-separated, RFC 4180 quoting exactly as the csv module does it, CRLF line ends.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from procviz.engine.formats.fixed_point import MILLIS, SECONDS
from procviz.engine.formats.model import TASK_STATE_NAMES, arg_table, export_lanes, reason_text, require_run
from procviz.engine.formats.parallel import ordered_map
from procviz.engine.formats.textcols import (
    CellTable,
    Field,
    fixed_field,
    int_field,
    join_fields,
    sparse_field,
    table_field,
)
from procviz.engine.timeline import Timeline

HEADER = ("id", "state", "reason", "pid", "lane", "chunk", "args", "submitted_s", "start_s", "end_s", "queued_ms",
          "cpu_ms", "ready_ms", "waiting_ms")
FORMULA_STARTS = frozenset("=+-@\t\r\0'")
NUL_SYMBOL = "\u2400"
CHUNK_ROWS = 8192  # rows formatted at a time: the row matrix (~1.4 MB) stays in cache while written
CHUNK_BYTES = 32 << 20  # ...fewer when long text cells make the rows wide
_STATE_WORDS = CellTable([name.encode() for name in TASK_STATE_NAMES])


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula (see the module doc)."""
    if text[:1] in FORMULA_STARTS:
        text = "'" + text
    return text.replace("\0", NUL_SYMBOL) if "\0" in text else text


def quoted_cell(text: str) -> bytes:
    """One neutralised text cell as the csv module writes it in a row (RFC 4180 quoting), in UTF-8.

    The csv module's minimal quoting (the excel dialect: a cell holding a comma, a quote, CR or LF is
    quoted, its quotes doubled) is done here directly: a million per-task argument texts cost a csv
    writer each otherwise (seconds). tests/test_formats_csv.py checks it against the csv module."""
    cell = neutralise(text)
    if _NEEDS_QUOTES.isdisjoint(cell):
        return cell.encode("utf-8", "backslashreplace")
    return ('"' + cell.replace('"', '""') + '"').encode("utf-8", "backslashreplace")


_NEEDS_QUOTES = frozenset(',"\r\n')


def write_csv(timeline: Timeline, out: BinaryIO) -> None:
    """Write the task table of ``timeline`` as CSV to the binary stream ``out``.

    Columns are formatted whole (engine/formats/textcols.py), a chunk of rows at a time; each
    distinct text (state word, reason, arguments) is quoted once (quoted_cell).
    """
    run = require_run(timeline)
    out.write(",".join(HEADER).encode() + b"\r\n")
    lanes = export_lanes(timeline)
    pid_of_lane = np.array([lane.pid for lane in lanes] or [0], dtype=np.int64)
    reason_ids = np.array(sorted(timeline.texts), dtype=np.int64)
    reason_cells = [quoted_cell(reason_text(timeline.texts[i])) for i in reason_ids.tolist()]
    arg_texts, arg_index = arg_table(timeline)
    arg_cells = [quoted_cell(a) for a in arg_texts]
    arg_table_cells = CellTable(arg_cells)  # made once: a run with per-task arguments has a million
    row_text = np.array([len(c) for c in arg_cells] or [0], dtype=np.int64)[arg_index] if len(arg_index) else arg_index
    if len(reason_ids):
        row_text = row_text.copy()
        row_text[reason_ids] += [len(c) for c in reason_cells]
    queued, waiting = timeline.queued_ns(), timeline.waiting_ns()

    def rows(bounds: tuple[int, int]) -> bytes:
        """The rows ``lo:hi`` (on a formatting thread: reads shared arrays only)."""
        lo, hi = bounds
        sl = slice(lo, hi)
        lane = timeline.lane[sl].astype(np.int64)
        has_lane = lane >= 0
        pid = pid_of_lane[np.clip(lane, 0, len(pid_of_lane) - 1)]
        at = slice(*np.searchsorted(reason_ids, [lo, hi]).tolist())
        fields: list[Field | bytes] = [
            int_field(np.arange(lo, hi)), b",", table_field(_STATE_WORDS, timeline.state[sl]), b",",
            sparse_field(hi - lo, reason_ids[at] - lo, reason_cells[at]), b",",
            int_field(pid, has_lane), b",", int_field(lane, has_lane), b",", int_field(timeline.chunk[sl]), b",",
            table_field(arg_table_cells, arg_index[sl]),
        ]
        for name in ("submitted_ns", "start_ns", "end_ns"):
            col = getattr(timeline, name)[sl]
            known = col >= 0
            fields += [b",", fixed_field(np.where(known, col - run.t0_ns, 0), SECONDS, known)]
        for col in (queued[sl], timeline.cpu_ns[sl], timeline.ready_ns[sl], waiting[sl]):
            fields += [b",", fixed_field(col, MILLIS, col >= 0)]
        fields.append(b"\r\n")
        return join_fields(fields, hi - lo)

    chunks = []
    n, lo = timeline.n_tasks, 0
    while lo < n:
        hi = _chunk_end(row_text, lo, n)
        chunks.append((lo, hi))
        lo = hi
    for block in ordered_map(rows, chunks):
        out.write(block)


def _chunk_end(row_text: np.ndarray, lo: int, n: int) -> int:
    """The end of the chunk from ``lo``: CHUNK_ROWS rows, halved while long text cells (each row
    is as wide as the chunk's widest) would make its matrix larger than CHUNK_BYTES."""
    hi = min(lo + CHUNK_ROWS, n)
    while hi - lo > 1 and (hi - lo) * (256 + int(row_text[lo:hi].max())) > CHUNK_BYTES:
        hi = lo + (hi - lo) // 2
    return hi
