"""``read_timeline``: detect the format from the content, never from the name.

* gzip magic bytes: decompressed first (within the size limit), then detected again;
* the text starts with ``{"displayTimeUnit":"ms","otherData":`` (how procviz writes traces) or is a
  JSON object with a ``traceEvents`` key: a Chrome trace; procviz rebuilds it from the copy of the
  native document it stored under the top-level key ``procviz`` (a trace from another tool has
  none and is refused);
* any other JSON object: a native file (its ``format`` and ``version`` are checked);
* a JSON array: a Chrome trace in array form, which procviz never writes: refused;
* anything else: procviz CSV (its header is checked strictly).

Nothing in a file is ever imported, unpickled or evaluated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from procviz.engine.formats.chrome_read import TRACE_PREFIX, timeline_from_chrome_bytes, timeline_from_chrome_doc
from procviz.engine.formats.csv_read import timeline_from_csv, timeline_from_csv_bytes
from procviz.engine.formats.csv_write import HEADER
from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.fileio import MAX_CSV_BYTES, check_format_size, read_limited
from procviz.engine.formats.gcpause import gc_paused
from procviz.engine.formats.jsonio import decode_utf8, parse_json
from procviz.engine.formats.native_fast import native_fast
from procviz.engine.formats.native_read import TaskPreview, timeline_from_native
from procviz.engine.timeline import Timeline

_LEADING_BLANKS = re.compile(r"\s*")
_HEAD_BYTES = 4096
_CSV_HEAD = ",".join(HEADER[:3])  # how every procviz CSV starts (a file's name never decides its kind)


def read_timeline(path: str | os.PathLike[str], on_tasks: Callable[[TaskPreview], None] | None = None) -> Timeline:
    """Read a native JSON, procviz CSV or procviz Chrome trace file into a new Timeline.

    Raises :class:`TimelineFileError` for anything it refuses and ``OSError`` when the file cannot be
    opened. ``on_tasks``: called (on the reading thread) with the task bars of a native file as soon
    as they are parsed, before the rest (a quarter of the read; see :class:`TaskPreview`); not called
    for other formats, or when the columns are not plain enough for the fast path.
    """
    with gc_paused():
        return _read(os.fspath(path), on_tasks)


def _read(p: str, on_tasks: Callable[[TaskPreview], None] | None = None) -> Timeline:
    data = read_limited(p)
    # The kind comes from the first characters; a CSV as procviz writes it is then read from its
    # bytes (no decoded copy of a 100 MB text), everything else from the decoded text.
    head = data[:_HEAD_BYTES].decode("utf-8-sig", "ignore")
    if not head.strip() and len(data) > _HEAD_BYTES:
        head = decode_utf8(data, p)  # a long blank start: look at the whole text
    start = m.end() if (m := _LEADING_BLANKS.match(head)) else 0
    first = head[start:start + 1]
    if not head.startswith(TRACE_PREFIX) and first not in ("{", "[") and len(data) <= MAX_CSV_BYTES:
        fast = timeline_from_csv_bytes(data)
        if fast is not None:
            return fast
    if head.startswith(TRACE_PREFIX):
        check_format_size(p, "chrome", len(data))  # (read_limited's limit: the same in bytes or characters)
        return timeline_from_chrome_bytes(data, p)
    if first == "{":
        check_format_size(p, "json", len(data))
        # Before decoding the text: the fast path checks every byte itself (its columns are plain
        # ASCII, the rest is decoded strictly), and a 65 MB decode is a tenth of a 1M-task read.
        fast = native_fast(data, p, on_tasks)
        if fast is not None:
            return fast
    text = decode_utf8(data, p)
    if first == "{":
        doc = parse_json(text, p)
        if isinstance(doc, dict) and "traceEvents" in doc and "format" not in doc:
            return timeline_from_chrome_doc(doc, p)
        return timeline_from_native(doc, p)
    if first == "[":
        # (not parsed to tell: any JSON array, a trace's or not, holds nothing procviz reads)
        raise TimelineFileError(p, "document", "", "is a JSON array (a Chrome trace in array form?), which carries "
                                "no procviz data; procviz re-opens only the traces it wrote")
    if p.lower().endswith((".json", ".json.gz")) and not head[start:].startswith(_CSV_HEAD):
        # The name only words the error: a .json that is neither JSON nor a procviz CSV (its header
        # says so) is not reported as a bad CSV.
        raise TimelineFileError(p, "document", "", "is empty; expected a JSON timeline" if not first
                                else "is not JSON (it does not start with '{')")
    check_format_size(p, "csv", len(text))
    return timeline_from_csv(text, p)
