"""Timeline files: native JSON (lossless, re-openable), CSV (one row per task), Chrome trace.

Public API:

* :func:`write_timeline` ``(timeline, path, fmt=None)`` -- the format from ``fmt`` (``"json"``,
  ``"csv"``, ``"chrome"``) or from the name: ``.csv`` CSV; ``.trace.json``, ``.chrome.json``,
  ``.perfetto.json`` and ``.json.gz`` Chrome trace; ``.json`` native; a final ``.gz`` compresses
  any of them; ``.png``/``.svg`` are refused (images are drawn by ``gui.render``). Written atomically
  (temp file + fsync + rename). Rules in :mod:`procviz.engine.formats.write`.
* :func:`read_timeline` ``(path, on_tasks=None) -> Timeline`` -- detects native JSON, procviz CSV or a Chrome trace
  procviz wrote (gzip or not) from the content. Files over :data:`MAX_FILE_BYTES` (1 GiB, also
  the limit on decompressed gzip content) are refused before parsing. Nothing in a file is ever
  imported or unpickled. ``on_tasks(preview)`` gets a native file's task bars (:class:`TaskPreview`:
  lane, start, end, state columns and the lanes) as soon as they are parsed, before the rest.
* :class:`TimelineFileError` -- raised for every refused file; ``path``, ``record`` and ``field`` say
  where, the message says what.
* :data:`FORMATS` -- ``("json", "csv", "chrome")``.

Formats: native JSON in :mod:`procviz.engine.formats.native_write`, CSV in :mod:`procviz.engine.formats.csv_write`,
Chrome trace in :mod:`procviz.engine.formats.chrome_write`. Round trips: native -> read -> native gives
the same bytes; a Chrome trace re-opens exactly (it carries the native document under the
top-level key ``procviz``); a CSV re-opens to the same tasks (ids, states, lanes, pids, times to
the nanosecond, reasons).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procviz.engine.file_names import FORMATS, choose_format
from procviz.engine.formats.errors import TimelineFileError

if TYPE_CHECKING:
    from procviz.engine.formats.fileio import MAX_FILE_BYTES
    from procviz.engine.formats.native_read import TaskPreview
    from procviz.engine.formats.read import read_timeline
    from procviz.engine.formats.write import write_timeline

# The readers (every format's parser, numpy-heavy checks) are imported on first use: a run that
# writes its timeline reads none, and importing them was ~5-8 ms of its critical path. The writers
# too: the package's plain modules (tmpfiles: the check of a run's --out, before the run) must not
# bring numpy in ahead of the run's Pool (engine/head_start.py).
_LAZY = {"read_timeline": "procviz.engine.formats.read", "TaskPreview": "procviz.engine.formats.native_read",
         "MAX_FILE_BYTES": "procviz.engine.formats.fileio", "write_timeline": "procviz.engine.formats.write"}


def __getattr__(name: str) -> Any:
    """``read_timeline``, ``write_timeline``, ``TaskPreview`` and ``MAX_FILE_BYTES``, imported when
    first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # (once: later lookups find it without this function)
    return value

__all__ = ["FORMATS", "MAX_FILE_BYTES", "TaskPreview", "TimelineFileError", "choose_format", "read_timeline",
           "write_timeline"]
