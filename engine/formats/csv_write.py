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
* UTF-8 without BOM, comma-separated, RFC 4180 quoting by the csv module, CRLF line ends.
"""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

import numpy as np

from procviz.engine.formats.fixed_point import MILLIS, SECONDS, format_fixed
from procviz.engine.formats.model import TASK_STATE_NAMES, derived_arg_texts, export_lanes, reason_text, require_run
from procviz.engine.timeline import Timeline

HEADER = ("id", "state", "reason", "pid", "lane", "chunk", "args", "submitted_s", "start_s", "end_s", "queued_ms",
          "cpu_ms", "ready_ms", "waiting_ms")
FORMULA_STARTS = frozenset("=+-@\t\r\0'")
NUL_SYMBOL = "\u2400"
CHUNK_ROWS = 16_384  # rows formatted at a time: bounded memory (~14 MB of cell strings) for any task count


def neutralise(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula (see the module doc)."""
    if text[:1] in FORMULA_STARTS:
        text = "'" + text
    return text.replace("\0", NUL_SYMBOL) if "\0" in text else text


def write_csv(timeline: Timeline, out: BinaryIO) -> None:
    """Write the task table of ``timeline`` as CSV to the binary stream ``out``."""
    run = require_run(timeline)
    stream = io.TextIOWrapper(out, encoding="utf-8", errors="backslashreplace", newline="")
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(HEADER)
    lanes = export_lanes(timeline)
    pid_of_lane = np.array([lane.pid for lane in lanes] or [0], dtype=np.int64)
    reasons = {tid: neutralise(reason_text(text)) for tid, text in timeline.texts.items()}
    args = derived_arg_texts(timeline)
    queued, waiting = timeline.queued_ns(), timeline.waiting_ns()
    t0 = run.t0_ns
    for lo in range(0, timeline.n_tasks, CHUNK_ROWS):
        sl = slice(lo, min(lo + CHUNK_ROWS, timeline.n_tasks))
        lane = timeline.lane[sl].astype(np.int64)
        has_lane = lane >= 0
        pid = np.where(has_lane, pid_of_lane[np.clip(lane, 0, len(pid_of_lane) - 1)], -1)
        ids = range(sl.start, sl.stop)
        cells = (
            [str(i) for i in ids],
            [TASK_STATE_NAMES[s] for s in timeline.state[sl].tolist()],
            [reasons.get(i, "") for i in ids],
            _ints(pid, has_lane),
            _ints(lane, has_lane),
            [str(c) for c in timeline.chunk[sl].tolist()],
            [neutralise(a) for a in args[sl]],
            *(_times(getattr(timeline, name)[sl], t0) for name in ("submitted_ns", "start_ns", "end_ns")),
            *(_durations(col[sl]) for col in (queued, timeline.cpu_ns, timeline.ready_ns, waiting)),
        )
        writer.writerows(zip(*cells, strict=True))
    stream.flush()
    stream.detach()  # leave ``out`` open: the caller owns it


def _ints(values: np.ndarray, known: np.ndarray) -> list[str]:
    out = [str(v) for v in values.tolist()]
    if not known.all():
        for i in np.flatnonzero(~known).tolist():
            out[i] = ""
    return out


def _times(abs_ns: np.ndarray, t0: int) -> list[str]:
    known = abs_ns >= 0
    return format_fixed(np.where(known, abs_ns - t0, 0), SECONDS, known)


def _durations(ns: np.ndarray) -> list[str]:
    known = ns >= 0
    return format_fixed(np.where(known, ns, 0), MILLIS, known)
