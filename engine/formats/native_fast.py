"""A native file's task columns parsed by numpy (:mod:`procviz.engine.formats.json_columns`) and the
rest of the document decoded strictly around them: the fast path for the native files procviz
writes, and for the native copy inside a Chrome trace. Anything it does not answer for (``None``)
is decoded whole by the strict path, which words every refusal.
"""

from __future__ import annotations

from collections.abc import Callable

from procviz.engine.formats.json_columns import Columns, cut_lines, parse_lines, task_lines
from procviz.engine.formats.jsonio import decode_strict
from procviz.engine.formats.native_read import PREVIEW_COLUMNS, TaskPreview, task_preview, timeline_from_native
from procviz.engine.timeline import Timeline


def native_fast(data: bytes, p: str, on_tasks: Callable[[TaskPreview], None] | None = None,
                prefix: str = "") -> Timeline | None:
    """A native file read with its task columns parsed by numpy (json_columns), or None when the
    fast path does not apply; the caller then decodes the whole text strictly (same errors).

    With ``on_tasks``, the preview's columns are parsed first and the others cut out unparsed
    (deferred), so the document around them is decoded once, before them."""
    lines = task_lines(data)
    if not lines:
        return None
    first = [line for line in lines if on_tasks is not None and line.key in PREVIEW_COLUMNS]
    rest = [line for line in lines if line not in first]
    values = dict(zip(first, parse_lines(data, first), strict=True))
    deferred = frozenset(line.key for line in rest)
    cut, columns = cut_lines(data, lines, [values.get(line) for line in lines], deferred)
    doc = _decoded_cut(cut, columns)
    if doc is None:
        return None
    if on_tasks is not None and all(values.get(line) is not None for line in first):
        preview = task_preview(doc, p, columns)
        if preview is not None:
            on_tasks(preview)
    values.update(zip(rest, parse_lines(data, rest), strict=True))
    if any(values[line] is None for line in rest):  # (rare) a column left to the strict decoder
        cut, columns = cut_lines(data, lines, [values[line] for line in lines])
        doc = _decoded_cut(cut, columns)
        if doc is None or not columns.by_marker:
            return None
    else:
        for line in rest:
            columns.fill(line.key, values[line])  # type: ignore[arg-type]
    return timeline_from_native(doc, p, prefix=prefix, columns=columns)


def _decoded_cut(cut: bytes, columns: Columns) -> dict | None:
    """The document with placeholders, or None when it is not one the fast path may answer for."""
    try:
        doc = decode_strict(cut.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # (JSONDecodeError and UnicodeDecodeError are ValueErrors)
        return None
    if not isinstance(doc, dict) or "traceEvents" in doc or not columns.in_place(doc):
        return None
    return doc
