"""Writing a Chrome trace (JSON object form) that Perfetto and chrome://tracing open.

Layout, in this order::

    {"displayTimeUnit":"ms","otherData":{...small: generator, version, t0_ns, where the timeline is...},
    "traceEvents":[
    ...M metadata, machine C counters, state and wait X slices, cpu/rss C counters, queue b/e,
       task X slices, the tasks C counter (one event per line)...
    ],
    "procviz":<the native timeline document>}

* Timestamps (``ts``) and durations (``dur``) are microseconds from the run start (``t0_ns`` in
  ``otherData`` and in ``procviz.run``), three decimals: exact nanoseconds.
* Tracks: see :mod:`procviz.engine.formats.chrome_tracks`. Slices on one track never overlap: measured
  times that do (clock jitter) are clipped, and such a task slice carries ``"clipped": true``.
* Task slices: name ``"task N"`` (the task number is read from the name), cat ``task``; args: state,
  chunk, queued/cpu/ready/waiting ms where measured (an unmeasured one is left out), and reason +
  traceback (failures), result (function results), args (arguments) when known.
* Queue: per Pool chunk of submitted tasks an async ``b``/``e`` pair (cat ``queue``, name ``queued``,
  id = chunk number in hex) from the chunk's first submission to the moment its first task started,
  on the parent's "task queue" thread; args ``{"chunk": C, "tasks": n}``, or ``{"task": N}`` for a
  chunk of one task (chunksize 1, thread pools, serial runs: the same events as before).
* Counters: ``tasks`` (queued, running) on the parent process, ``cpu`` (percent) and ``rss`` (MiB) per
  worker process from the resource samples.
* Padding: the task and queue events are formatted a few thousand at a time as fixed-width rows
  (engine/formats/textcols.py), and the padding of a narrower value stays as spaces between JSON
  tokens (``"dur":  2.887``), never inside a string: valid JSON for every viewer, and no pass over
  the 0.3 GB to remove it.
* Changed since the writer of the previous round (51ed5e0): one queue span per chunk instead of per
  task, no ``"task"`` arg on task slices (the name carries it), and an unmeasured ms arg left out
  instead of ``null``. A million tasks in chunks of 1000 (procviz's own 1M no-op run): 516 -> 256
  MB (2 of every 3 events were queue events), under the readers' 256 MiB limit, so procviz re-opens
  it. Every task's own wait stays in its slice's ``queued_ms``, the queue's depth in the ``tasks``
  counter. Traces of the previous writer still re-open (their native copy is the same;
  tests/fixtures/old_writer.trace.json).
* Re-opening: procviz rebuilds the Timeline *exactly* from the top-level ``procviz`` member, a
  complete copy of the native file (~24% of the trace's size at 1M tasks); the events are for viewers and are
  only checked for validity (a trace that is byte for byte what procviz writes for that copy needs
  no check: see chrome_read). Why not inside ``otherData``: Perfetto's JSON tokenizer reads
  ``otherData`` in one piece and older versions fail with "otherData too large" when it does not
  fit in one read chunk (tens of MB for a 1M-task run); an unknown key after ``traceEvents`` is
  skipped (newer) or ends the parse after all events (older). chrome://tracing lists it as metadata.
"""

from __future__ import annotations

from typing import BinaryIO

from procviz.engine.formats.chrome_events import (
    TaskSlices,
    flight_counter,
    machine_counters,
    queue_spans,
    resource_counters,
    span_lanes,
    state_lanes,
    state_slices,
    wait_spans,
)
from procviz.engine.formats.chrome_tracks import build_layout
from procviz.engine.formats.jsonio import dumps_value, text_bytes
from procviz.engine.formats.model import export_lanes, require_run, trace_end_ns
from procviz.engine.formats.native_write import FORMAT_TAG, VERSION, native_chunks
from procviz.engine.formats.parallel import Later
from procviz.engine.timeline import Timeline

TRACE_PREFIX = '{"displayTimeUnit":"ms","otherData":'
TRACE_EVENTS_KEY = ',\n"traceEvents":['
TIMELINE_KEY = ',\n"procviz":'
ABOUT = ("ts/dur are microseconds since the run start (time_origin_ns, CLOCK_MONOTONIC ns). procviz re-opens this "
         "file from the top-level member 'procviz', a complete copy of its native timeline.")


def write_chrome(timeline: Timeline, out: BinaryIO) -> None:
    """Write ``timeline`` as a Chrome trace to the binary stream ``out``."""
    run = require_run(timeline)
    layout = build_layout(export_lanes(timeline))
    end = trace_end_ns(timeline)
    other = {"generator": "procviz", "timeline_key": "procviz", "timeline_format": FORMAT_TAG,
             "timeline_version": VERSION, "time_origin_ns": run.t0_ns, "host": run.host, "about": ABOUT}
    out.write(TRACE_PREFIX.encode() + dumps_value(other) + TRACE_EVENTS_KEY.encode())
    first = True

    def emit(lines: list[str] | bytes | memoryview) -> None:
        """Write a chunk of event lines (or a block of them already joined), comma-separated from
        what came before."""
        nonlocal first
        if not lines:
            return
        out.write(b"\n" if first else b",\n")
        out.write(text_bytes(",\n".join(lines)) if isinstance(lines, list) else lines)
        first = False

    # The set-ups that need one core run on threads of their own while the first events are
    # formatted and written (the task slices' clipping; the tasks counter's sort, then the native
    # copy, one after the other so their temporaries never add up): no core waits for them. The
    # counter goes last: its sort then runs while the task slices are formatted (they waited for it
    # before). The events' order in the file means nothing to viewers.
    tasks = Later(lambda: TaskSlices(timeline, layout, end))
    side = Later(lambda: (flight_counter(timeline, layout, end), list(native_chunks(timeline))))
    emit(layout.metadata(state_lanes(timeline, layout), span_lanes(timeline)))
    emit(machine_counters(timeline, layout))
    for group in (state_slices(timeline, layout, end), wait_spans(timeline, layout),
                  resource_counters(timeline, layout), queue_spans(timeline, layout, end)):
        for lines in group:
            emit(lines)
    for block in tasks.result().blocks():
        emit(block)
    flight, native = side.result()
    emit(flight)
    out.write(b"\n]" + TIMELINE_KEY.encode())
    for part in native:
        out.write(part)
    out.write(b"}\n")
