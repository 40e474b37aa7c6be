"""Re-opening a Chrome trace that procviz wrote, from the native copy under the key ``procviz``.

Fast path (:func:`_fast_read`): the native copy is read by the native fast path (numpy task
columns), then the timeline is written again as a trace into a comparison instead of a file: when
that gives the file's bytes exactly, the file is what procviz writes for that timeline, whose events
pass every check below by construction (the writer is deterministic; the round-trip tests), so the
millions of events are never decoded. A 200k-task trace: 2.9 s of CPU -> 0.65 s.

Anything else (a trace edited, reformatted, or written by an older procviz; a problem anywhere) is
read by the strict path, which words every refusal: ``otherData`` and the ``procviz`` document are
decoded strictly; the ``traceEvents`` array is decoded with a hook that checks each event (``ph``
text, integer ``pid``/``tid``, finite ``ts``, ``dur`` >= 0, no repeated keys, no NaN) and drops it at
once, so a multi-million-event trace never sits in memory as Python dicts. A trace rewritten by
another tool (keys reordered, pretty-printed) is decoded whole instead. Either way the Timeline is
built by the native reader from ``procviz``; a trace without it was not written by procviz and is
refused.
"""

from __future__ import annotations

import json
from typing import Any

from procviz.engine.formats.checks import Checker, describe, is_int
from procviz.engine.formats.chrome_write import TIMELINE_KEY, TRACE_EVENTS_KEY, TRACE_PREFIX, write_chrome
from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.jsonio import STRICT_DECODER, decode_utf8, first_repeat, json_error, parse_json
from procviz.engine.formats.native_fast import native_fast
from procviz.engine.formats.native_read import timeline_from_native
from procviz.engine.timeline import Timeline

__all__ = ["TRACE_PREFIX", "timeline_from_chrome_bytes", "timeline_from_chrome_doc"]


def check_event(c: Checker, event: Any, record: str, deep: bool = True) -> None:
    """The fields every viewer relies on: ph text, integer pid/tid, finite ts, dur >= 0.

    ``deep``: also walk ``args`` for repeated keys and NaN (not needed when the lean decoder's hook
    already refused those while decoding).
    """
    obj = c.obj(event, record)
    if not isinstance(obj.get("ph"), str):
        c.fail(record, "ph", f"must be text (got {describe(obj.get('ph'))})")
    for key in ("pid", "tid"):
        if key in obj and not is_int(obj[key]):
            c.fail(record, key, f"must be a whole number (got {describe(obj[key])})")
    for key in ("ts", "dur"):
        if key in obj:
            value = obj[key]
            if type(value) not in (int, float) or value != value or value in (float("inf"), float("-inf")):
                c.fail(record, key, f"must be a finite number (got {describe(value)})")
            if key == "dur" and value < 0:
                c.fail(record, key, f"must not be negative (got {value})")
    if deep and "args" in obj:
        c.plain(obj["args"], record, "args")


class _LeanEvents:
    """A JSON decoder for the events array that validates and drops each event as it completes."""

    def __init__(self, path: str) -> None:
        self.checker = Checker(path)
        self.count = 0
        self.decoder = json.JSONDecoder(object_pairs_hook=self._hook, parse_constant=self._constant)

    def _record(self) -> str:
        return f"traceEvents[{self.count}]"

    def _constant(self, token: str) -> Any:
        self.checker.fail(self._record(), "", f"{token} is not a finite number")

    def _hook(self, pairs: list[tuple[str, Any]]) -> Any:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self.checker.fail(self._record(), first_repeat(pairs), "the key appears twice in one object")
        ph = obj.get("ph")
        if ph is None:
            return obj  # an args object: its repeated keys and NaN were refused above / by _constant
        # Fast path for the millions of good events; check_event finds and words any problem.
        ts, dur = obj.get("ts", 0), obj.get("dur", 0)
        if not (type(ph) is str and type(obj.get("pid", 0)) is int and type(obj.get("tid", 0)) is int
                and type(ts) in _NUMBER and type(dur) in _NUMBER and ts - ts == 0 and dur - dur == 0 and dur >= 0):
            check_event(self.checker, obj, self._record(), deep=False)
        self.count += 1
        return None


_NUMBER = (int, float)


def timeline_from_chrome_bytes(data: bytes, path: str) -> Timeline:
    """Re-open a trace whose text starts with TRACE_PREFIX (see the module docstring)."""
    fast = _fast_read(data, path)
    if fast is not None:
        return fast
    text = decode_utf8(data, path)
    lean = _LeanEvents(path)
    try:
        other, i = STRICT_DECODER.raw_decode(text, len(TRACE_PREFIX))
        if not text.startswith(TRACE_EVENTS_KEY, i):
            return timeline_from_chrome_doc(parse_json(text, path), path)
        _, i = lean.decoder.raw_decode(text, i + len(TRACE_EVENTS_KEY) - 1)
        if not text.startswith(TIMELINE_KEY, i):
            return timeline_from_chrome_doc(parse_json(text, path), path)
        timeline_doc, i = STRICT_DECODER.raw_decode(text, i + len(TIMELINE_KEY))
    except json.JSONDecodeError as exc:
        raise json_error(exc, text, path) from None
    rest = text[i:].strip()
    if rest != "}":
        line = text.count("\n", 0, i) + 1
        problem = "the file ends early (truncated?): the closing '}' is missing" if not rest else \
            f"unexpected text after the timeline: {rest[:20]!r}"
        raise TimelineFileError(path, f"line {line}", "", problem)
    Checker(path).obj(other, "otherData")
    return timeline_from_native(timeline_doc, path, prefix="procviz.")


def _fast_read(data: bytes, path: str) -> Timeline | None:
    """The timeline of a trace that is, byte for byte, what procviz writes for it; None when it is not
    (the strict path then reads it and words any refusal). The native copy is read by the native
    fast path; the events need no check of their own when writing that timeline again gives exactly
    the file's bytes: the writer is deterministic and everything it writes passes the strict check
    (the round-trip tests). Comparing costs a write without a disk, not a decode of every event."""
    events_end = data.find(_EVENTS_END)
    last = len(data) - 1  # the trace's closing brace, after the native copy (no stripped copy of the data)
    while last > 0 and data[last] in _BLANKS:
        last -= 1
    if events_end < 0 or last < events_end or data[last] != ord("}"):
        return None
    try:
        timeline = native_fast(data[events_end + len(_EVENTS_END):last], path, prefix="procviz.")
    except (TimelineFileError, ValueError, RecursionError):  # (the strict path says which problem comes first)
        return None
    if timeline is None or timeline.run is None:
        return None
    same = _SameBytes(data)
    try:
        write_chrome(timeline, same)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - _Differs, or a timeline the writer dislikes: the strict path decides
        return None
    return timeline if same.pos == len(data) else None


_EVENTS_END = ("\n]" + TIMELINE_KEY).encode()
_BLANKS = b" \t\r\n"


class _Differs(Exception):
    """What is written differs from the file."""


class _SameBytes:
    """A write target that checks each write against the file's bytes at that point."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def write(self, chunk: bytes) -> int:
        """Compare ``chunk`` with the file's next bytes (no copy); raise _Differs when they differ."""
        if not self.data.startswith(chunk, self.pos):
            raise _Differs
        self.pos += len(chunk)
        return len(chunk)


def timeline_from_chrome_doc(doc: Any, path: str) -> Timeline:
    """Re-open a trace already decoded whole (written by procviz, maybe reformatted since)."""
    c = Checker(path)
    doc = c.obj(doc, "document")
    events = c.column_list(doc.get("traceEvents"), "document", "traceEvents", None)
    for i, event in enumerate(events):
        check_event(c, event, f"traceEvents[{i}]")
    if "procviz" not in doc:
        c.fail("document", "procviz", "is missing: this Chrome trace was not written by procviz")
    return timeline_from_native(doc["procviz"], path, prefix="procviz.")
