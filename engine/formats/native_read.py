"""Reading the native timeline file: every field checked before a Timeline is built.

The document (already decoded by :mod:`procviz.engine.formats.jsonio`) must carry the exact format tag and
version, the same state codes as this procviz (``enums``), and nothing else than the known fields.
Refused, each with the record and field named: wrong types, NaN/Infinity, repeated keys, unknown
or missing fields, task ids, lanes, states or span labels out of range, column lengths that do not
match ``run.n_tasks``, an end before its start, negative durations (cpu/ready below -1, the
"unknown" marker). Lengths are checked before any array is sized, so a file cannot make the reader
allocate more than its own size suggests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from procviz.engine.columns import ArrayColumn
from procviz.engine.events import LaneInfo, LaneKind, RunInfo, RunOutcome, RunPhase, RunStatus, TaskText
from procviz.engine.formats.checks import INT32_MAX, INT64_MAX, Checker, describe, is_int
from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.json_columns import Columns
from procviz.engine.formats.model import LANE_KINDS, RUN_OUTCOMES, RUN_PHASE_NAMES, TEXT_KINDS
from procviz.engine.formats.native_write import (
    ENUMS,
    FLOAT_COLUMNS,
    FORMAT_TAG,
    INT_TASK_COLUMNS,
    LANE_FIELDS,
    READABLE_VERSIONS,
    RUN_FIELDS,
    SAME_AS_TASKS,
    TABLE_DTYPES,
    TEXT_COLUMNS,
    VERSION,
)
from procviz.engine.timeline import Timeline

TOP_FIELDS = ("format", "version", "enums", "config", "run", "now_ns", "status", "lanes", "span_labels", "tasks",
              "texts", "intervals", "resources", "spans")
OPTIONAL_FIELDS = ("machine",)  # since version 2
# (low, high) of each integer task column; the lane bound is set per file from the lane count.
TASK_RANGES = {"submitted_ns": (-1, INT64_MAX), "start_ns": (-1, INT64_MAX), "end_ns": (-1, INT64_MAX),
               "cpu_ns": (-1, INT64_MAX), "ready_ns": (-1, INT64_MAX), "state": (0, len(ENUMS["task_state"]) - 1),
               "chunk": (0, INT32_MAX)}
TASK_DTYPES = {"lane": np.int32, "state": np.uint8, "chunk": np.int32}


PREVIEW_COLUMNS = ("lane", "start_ns", "end_ns", "state")


@dataclass(frozen=True)
class TaskPreview:
    """What a Gantt chart needs to draw a file's task bars, handed out by ``read_timeline(path,
    on_tasks=...)`` before the rest of the file is parsed and checked.

    Each column is checked as the full read checks it (length ``n_tasks``, lanes within ``lanes``,
    known states, no end before its start), but the file as a whole is not yet: the read can still
    refuse it afterwards (then drop the preview and show the error). Times are int64 ns (-1 =
    unknown), as in :class:`~procviz.engine.timeline.Timeline`; ``lane`` is -1 for a task that never
    ran on one.
    """

    n_tasks: int
    t0_ns: int
    lanes: list[LaneInfo]
    lane: np.ndarray  # int32
    start_ns: np.ndarray  # int64
    end_ns: np.ndarray  # int64
    state: np.ndarray  # uint8, TaskState codes


def task_preview(doc: Any, path: str, columns: Columns) -> TaskPreview | None:
    """The preview of a decoded native document whose PREVIEW_COLUMNS are parsed (the others may
    not be yet), or None when anything it looks at would be refused (the full read says why)."""
    c = Checker(path, "", columns)
    try:
        doc = check_header(doc, c)
        run_obj = c.obj(doc["run"], "run")
        n = c.integer(run_obj, "n_tasks", "run", 0, INT32_MAX)
        lanes = _lanes(c, doc["lanes"])
        tasks = c.obj(doc["tasks"], "document", "tasks")
        ranges = {**TASK_RANGES, "lane": (-1, len(lanes) - 1)}
        cols = {name: c.int_column(tasks[name], "tasks", name, n, *ranges[name], dtype=TASK_DTYPES.get(name, np.int64))
                for name in PREVIEW_COLUMNS}
        c.ordered(cols["start_ns"], cols["end_ns"], "tasks", "start_ns", "end_ns")
        t0 = c.integer(run_obj, "t0_ns", "run", 0, INT64_MAX)
    except (TimelineFileError, KeyError):
        return None
    return TaskPreview(n, t0, lanes, cols["lane"], cols["start_ns"], cols["end_ns"], cols["state"])


def check_header(doc: Any, c: Checker) -> dict[str, Any]:
    """The document object with a valid format tag and version (checked first: clearest message)."""
    doc = c.obj(doc, "document")
    if "format" not in doc:
        c.fail("document", "format", "is missing: this is not a procviz timeline file")
    if doc["format"] != FORMAT_TAG:
        c.fail("document", "format", f"is {describe(doc['format'])}; a procviz timeline says {FORMAT_TAG!r}")
    version = doc.get("version")
    if not is_int(version):
        c.fail("document", "version", f"must be a whole number (got {describe(version)})")
    if version not in READABLE_VERSIONS:
        c.fail("document", "version", f"is {version}; this procviz reads versions "
               f"{', '.join(map(str, READABLE_VERSIONS))}"
               + (" (the file comes from a newer procviz)" if version > VERSION else ""))
    return doc


def timeline_from_native(doc: Any, path: str, prefix: str = "", columns: Columns | None = None) -> Timeline:
    """Validate a decoded native document and build its Timeline (raises TimelineFileError).

    ``columns``: the task columns the fast path cut out of the text (see json_columns).
    """
    c = Checker(path, prefix, columns)
    doc = check_header(doc, c)
    c.fields(doc, "document", TOP_FIELDS, OPTIONAL_FIELDS if doc["version"] >= 2 else ())
    enums = c.plain(c.obj(doc["enums"], "document", "enums"), "document", "enums")
    if enums != ENUMS:
        c.fail("document", "enums", "state codes differ from this procviz version's; the file cannot be read")
    config = c.plain(c.obj(doc["config"], "document", "config"), "document", "config")
    run_obj = c.obj(doc["run"], "run")
    c.fields(run_obj, "run", RUN_FIELDS)
    n = c.integer(run_obj, "n_tasks", "run", 0, INT32_MAX)
    lanes = _lanes(c, doc["lanes"])
    tasks = _tasks(c, doc["tasks"], n, len(lanes))
    span_labels = c.text_column(doc["span_labels"], "document", "span_labels", None)
    run = _run(c, run_obj, config, n, tasks)
    texts = _texts(c, doc["texts"], n)
    tables = {name: _table(c, doc[name], name, len(lanes), len(span_labels)) for name in TABLE_DTYPES
              if name in doc}
    status = _status(c, doc["status"])
    now_ns = c.integer(doc, "now_ns", "document", 0, INT64_MAX)
    timeline = Timeline()
    timeline.load_columns(run, lanes, tasks, texts, tables["intervals"], tables["resources"], tables["spans"],
                          list(span_labels), status, now_ns, tables.get("machine"), adopt=True)
    return timeline


def _run(c: Checker, obj: dict[str, Any], config: dict[str, Any], n: int, tasks: dict[str, np.ndarray]) -> RunInfo:
    arg_texts = c.text_column(obj["arg_texts"], "run", "arg_texts", None)
    if len(arg_texts) not in (0, n):
        c.fail("run", "arg_texts", f"has {len(arg_texts)} values; expected 0 or {n}")
    # Per-task run data stays a numpy column (8 bytes a task, not a tuple of a million objects).
    if obj["cost_ms"] == SAME_AS_TASKS:
        cost: Sequence[float] = ArrayColumn(tasks["cost_ms"])
    else:
        cost = ArrayColumn(c.float_column(obj["cost_ms"], "run", "cost_ms", None, low=0.0))
        if len(cost) not in (0, n):
            c.fail("run", "cost_ms", f"has {len(cost)} values; expected 0 or {n} (or \"tasks\")")
    if obj["chunks"] == SAME_AS_TASKS:
        chunks: Sequence[int] = ArrayColumn(tasks["chunk"])
    else:
        chunks = ArrayColumn(c.int_column(obj["chunks"], "run", "chunks", None, 0, INT32_MAX))
        if len(chunks) not in (0, n):
            c.fail("run", "chunks", f"has {len(chunks)} values; expected 0 or {n} (or \"tasks\")")
    return RunInfo(
        n_tasks=n, t0_ns=c.integer(obj, "t0_ns", "run", 0, INT64_MAX), config=config,
        host=c.text(obj, "host", "run"), cpu_count=c.integer(obj, "cpu_count", "run", 0, INT32_MAX),
        schedstat=c.boolean(obj, "schedstat", "run"), arg_texts=tuple(arg_texts), cost_ms=cost, chunks=chunks,
    )


def _lanes(c: Checker, value: Any) -> list[LaneInfo]:
    items = c.column_list(value, "document", "lanes", None)
    lanes = []
    for i, item in enumerate(items):
        rec = f"lanes[{i}]"
        obj = c.obj(item, rec)
        c.fields(obj, rec, LANE_FIELDS)
        index = c.integer(obj, "index", rec, i, i)
        times = {k: c.integer(obj, k, rec, -1, INT64_MAX) for k in ("created_ns", "ready_ns", "exit_ns")}
        if times["exit_ns"] >= 0 and 0 <= times["ready_ns"] and times["exit_ns"] < times["ready_ns"]:
            c.fail(rec, "exit_ns", f"ends before it starts (exit_ns {times['exit_ns']} < ready_ns {times['ready_ns']})")
        lanes.append(LaneInfo(
            index=index, pid=c.integer(obj, "pid", rec, 0, INT64_MAX), tid=c.integer(obj, "tid", rec, 0, INT64_MAX),
            kind=LaneKind(c.text(obj, "kind", rec, LANE_KINDS)), name=c.text(obj, "name", rec),
            exit_code=c.integer(obj, "exit_code", rec, nullable=True), exit_reason=c.text(obj, "exit_reason", rec),
            **times,
        ))
    return lanes


def _tasks(c: Checker, value: Any, n: int, n_lanes: int) -> dict[str, np.ndarray]:
    obj = c.obj(value, "document", "tasks")
    c.fields(obj, "tasks", (*INT_TASK_COLUMNS, "cost_ms"))
    ranges = {**TASK_RANGES, "lane": (-1, n_lanes - 1)}
    cols = {name: c.int_column(obj[name], "tasks", name, n, *ranges[name], dtype=TASK_DTYPES.get(name, np.int64))
            for name in INT_TASK_COLUMNS}
    if obj["cost_ms"] is None:
        cols["cost_ms"] = np.full(n, np.nan)
    else:
        cols["cost_ms"] = c.float_column(obj["cost_ms"], "tasks", "cost_ms", n, low=0.0)
    c.ordered(cols["start_ns"], cols["end_ns"], "tasks", "start_ns", "end_ns")
    c.within_wall(cols["cpu_ns"], cols["start_ns"], cols["end_ns"], "tasks", "cpu_ns")
    return cols


def _texts(c: Checker, value: Any, n: int) -> dict[int, TaskText]:
    obj = c.obj(value, "document", "texts")
    c.fields(obj, "texts", TEXT_COLUMNS)
    ids = c.int_column(obj["task_id"], "texts", "task_id", None, 0, n - 1)
    m = len(ids)
    cols = {name: c.text_column(obj[name], "texts", name, m) for name in TEXT_COLUMNS[1:]}
    id_list = ids.tolist()
    if len(set(id_list)) != m:
        seen: set[int] = set()
        for i, task_id in enumerate(id_list):
            if task_id in seen:
                c.fail(f"texts[{i}]", "task_id", f"task {task_id} already has a text")
            seen.add(task_id)
    bad = set(cols["kind"]).difference(TEXT_KINDS)
    if bad:
        i = next(i for i, kind in enumerate(cols["kind"]) if kind in bad)
        c.fail(f"texts[{i}]", "kind", f"must be one of {', '.join(TEXT_KINDS)} (got {describe(cols['kind'][i])})")
    # A text that several tasks have word for word (a Stop's "cancelled by Stop", a lost chunk's
    # reason) is read as one shared object (task_id -1, as the engine made it): the texts of a
    # million stopped tasks are one object, not a million (~1 us and ~150 bytes each).
    rows = list(zip(cols["kind"], cols["type_name"], cols["message"], cols["traceback"], strict=True))
    shared = {row: TaskText(-1, *row) for row, times in Counter(rows).items() if times > 1}
    of = shared.get
    # In the file's order: written again, the file is the same bytes.
    return {task_id: of(row) or TaskText(task_id, *row) for task_id, row in zip(id_list, rows, strict=True)}


def _table(c: Checker, value: Any, table: str, n_lanes: int, n_labels: int) -> np.ndarray:
    dtype = TABLE_DTYPES[table]
    names: tuple[str, ...] = dtype.names or ()
    obj = c.obj(value, "document", table)
    c.fields(obj, table, names)
    first = names[0]
    m = len(c.column_list(obj[first], table, first, None))
    out = np.zeros(m, dtype=dtype)
    for name in names:
        if name in FLOAT_COLUMNS:
            out[name] = c.float_column(obj[name], table, name, m, low=0.0, dtype=np.float32)
            continue
        low, high = 0, INT64_MAX
        if name == "lane":
            high = n_lanes - 1
        elif name == "state":
            high = len(ENUMS["worker_state"]) - 1
        elif name == "label":
            high = n_labels - 1
        out[name] = c.int_column(obj[name], table, name, m, low, high)
    if "end_ns" in names:
        c.ordered(out["start_ns"], out["end_ns"], table, "start_ns", "end_ns")
    return out


def _status(c: Checker, value: Any) -> RunStatus | None:
    if value is None:
        return None
    obj = c.obj(value, "status")
    c.fields(obj, "status", ("phase", "message", "outcome"))
    phase = c.text(obj, "phase", "status", RUN_PHASE_NAMES)
    outcome = c.text(obj, "outcome", "status", ("", *RUN_OUTCOMES))
    return RunStatus(RunPhase(RUN_PHASE_NAMES.index(phase)), c.text(obj, "message", "status"),
                     RunOutcome(outcome) if outcome else None)
