"""Writing the native timeline file: lossless, columnar, one record per line, deterministic.

Layout (``FORMAT_TAG``, version ``VERSION``)::

    {"format":"procviz-timeline","version":2,
    "enums":{"task_state":["pending",...],"worker_state":[...],"run_phase":[...]},
    "config":{...the RunConfig as JSON...},
    "run":{"n_tasks":N,"t0_ns":...,"host":...,"cpu_count":...,"schedstat":...,
           "arg_texts":[...],"cost_ms":"tasks"|[...],"chunks":"tasks"|[...]},
    "now_ns":...,
    "status":null|{"phase":"finished","message":...,"outcome":...},
    "lanes":[
    {...one LaneInfo per line...}],
    "span_labels":[...],
    "tasks":{
    "submitted_ns":[...N ints...],          <- one column per line, in Timeline.TASK_COLUMNS order
    ...
    "cost_ms":[...floats or null...]|null},
    "texts":{"task_id":[...],"kind":[...],"type_name":[...],"message":[...],"traceback":[...]},
    "intervals":{"lane":[...],"state":[...],"start_ns":[...],"end_ns":[...],"cpu_ns":[...],"ready_ns":[...]},
    "resources":{"lane":[...],"t_ns":[...],"cpu_pct":[...],"rss":[...]},
    "spans":{"lane":[...],"start_ns":[...],"end_ns":[...],"label":[...]},
    "machine":{"start_ns":[...],"end_ns":[...],"cpus":[...],"busy":[...],"own":[...]}}

Version 2 added ``machine`` (the machine lane, engine/machine.py); version 1 files, which lack
it, are still read.

Why columns: a million tasks are nine lists of a million numbers, ~70 bytes per task, written
straight from numpy and parsed by the C JSON scanner without a Python object per task.
Times are the engine's int64 nanoseconds (-1 = unknown), states are the integer codes listed in
``enums`` (a reader refuses a file whose codes differ). ``run.cost_ms``/``run.chunks`` say
``"tasks"`` when they equal the task columns (the normal case) instead of repeating a million
values. NaN cost (no planned duration) is ``null``; ``cost_ms`` is ``null`` when every task has none.
Writing the same Timeline twice, or a Timeline read from such a file, gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from procviz.engine.events import INTERVAL_DTYPE, MACHINE_DTYPE, RESOURCE_DTYPE, SPAN_DTYPE, LaneInfo, RunInfo
from procviz.engine.formats.jsonio import dumps_value, float_list_bytes, int_list_bytes
from procviz.engine.formats.model import (
    RUN_PHASE_NAMES,
    TASK_STATE_NAMES,
    WORKER_STATE_NAMES,
    export_lanes,
    require_run,
)
from procviz.engine.timeline import Timeline

FORMAT_TAG = "procviz-timeline"
VERSION = 2
READABLE_VERSIONS = (1, 2)  # every version this procviz reads (tables added since are optional)
ENUMS = {"task_state": list(TASK_STATE_NAMES), "worker_state": list(WORKER_STATE_NAMES),
         "run_phase": list(RUN_PHASE_NAMES)}
INT_TASK_COLUMNS = ("submitted_ns", "start_ns", "end_ns", "cpu_ns", "ready_ns", "lane", "state", "chunk")
TEXT_COLUMNS = ("task_id", "kind", "type_name", "message", "traceback")
LANE_FIELDS = ("index", "pid", "tid", "kind", "name", "created_ns", "ready_ns", "exit_ns", "exit_code",
               "exit_reason")
RUN_FIELDS = ("n_tasks", "t0_ns", "host", "cpu_count", "schedstat", "arg_texts", "cost_ms", "chunks")
TABLE_DTYPES = {"intervals": INTERVAL_DTYPE, "resources": RESOURCE_DTYPE, "spans": SPAN_DTYPE,
                "machine": MACHINE_DTYPE}
FLOAT_COLUMNS = ("cpu_pct", "busy", "own")  # float32 columns of the tables
SAME_AS_TASKS = "tasks"


def write_native(timeline: Timeline, out: BinaryIO) -> None:
    """Write ``timeline`` as a native file to the binary stream ``out``."""
    for part in native_chunks(timeline):
        out.write(part)
    out.write(b"\n")


def native_chunks(timeline: Timeline) -> Iterator[bytes]:
    """The native document as a sequence of byte chunks (one column at a time, never the whole)."""
    run = require_run(timeline)
    yield b'{"format":' + dumps_value(FORMAT_TAG) + b',"version":' + str(VERSION).encode() + b",\n"
    yield b'"enums":' + dumps_value(ENUMS) + b",\n"
    try:
        config = dumps_value(run.config)
    except TypeError as exc:
        raise ValueError(f"run.config is not plain JSON data: {exc}") from None
    yield b'"config":' + config + b",\n"
    yield b'"run":' + _run_record(run, timeline) + b",\n"
    yield b'"now_ns":' + str(int(timeline.now_ns)).encode() + b",\n"
    yield b'"status":' + _status_record(timeline) + b",\n"
    lanes = export_lanes(timeline)
    yield b'"lanes":[' + b",\n".join(_lane_record(lane) for lane in lanes) + b"],\n"
    yield b'"span_labels":' + dumps_value(list(timeline.span_labels)) + b",\n"
    yield b'"tasks":{'
    for name in INT_TASK_COLUMNS:
        yield b"\n" + dumps_value(name) + b":" + int_list_bytes(getattr(timeline, name)) + b","
    cost = timeline.cost_ms
    yield b'\n"cost_ms":' + (b"null" if not np.isfinite(cost).any() else float_list_bytes(cost)) + b"},\n"
    yield b'"texts":{' + _texts_columns(timeline) + b"},\n"
    for table in TABLE_DTYPES:
        data = getattr(timeline, table).data
        cols = []
        for name in TABLE_DTYPES[table].names or ():
            values = data[name]
            encoded = float_list_bytes(values, single=True) if name in FLOAT_COLUMNS else int_list_bytes(values)
            cols.append(dumps_value(name) + b":" + encoded)
        end = b"}}" if table == "machine" else b"},\n"
        yield dumps_value(table) + b":{" + b",".join(cols) + end


def _run_record(run: RunInfo, timeline: Timeline) -> bytes:
    n = timeline.n_tasks
    cost: object = SAME_AS_TASKS
    if not (run.cost_ms and len(run.cost_ms) == n and np.array_equal(
            np.asarray(run.cost_ms, dtype=np.float64), timeline.cost_ms, equal_nan=True)):
        cost = [c if np.isfinite(c) else None for c in run.cost_ms]  # JSON has no NaN: null = unknown
    chunks: object = SAME_AS_TASKS
    if not (run.chunks and len(run.chunks) == n and np.array_equal(np.asarray(run.chunks), timeline.chunk)):
        chunks = list(run.chunks)
    record = {"n_tasks": run.n_tasks, "t0_ns": run.t0_ns, "host": run.host, "cpu_count": run.cpu_count,
              "schedstat": bool(run.schedstat), "arg_texts": list(run.arg_texts), "cost_ms": cost,
              "chunks": chunks}
    return dumps_value(record)


def _status_record(timeline: Timeline) -> bytes:
    s = timeline.status
    if s is None:
        return b"null"
    return dumps_value({"phase": RUN_PHASE_NAMES[int(s.phase)], "message": s.message, "outcome": s.outcome or ""})


def _lane_record(lane: LaneInfo) -> bytes:
    return dumps_value({name: getattr(lane, name) for name in LANE_FIELDS})


def _texts_columns(timeline: Timeline) -> bytes:
    # Insertion order of the dict is kept, so a file read back writes the same bytes.
    texts = list(timeline.texts.values())
    # The keys, not each text's task_id: the engine's shared texts (a Stop's) say -1 there.
    ids = np.fromiter(timeline.texts, dtype=np.int64, count=len(texts))
    parts = [b'"task_id":' + int_list_bytes(ids)]
    for name in TEXT_COLUMNS[1:]:
        parts.append(dumps_value(name) + b":" + dumps_value([getattr(t, name) for t in texts]))
    return b",".join(parts)
