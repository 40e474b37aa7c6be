"""``write_timeline``: pick the format from ``fmt`` or the file name, write atomically.

The rule (:func:`procviz.engine.file_names.choose_format`), first match wins:

1. ``fmt`` given (the CLI's ``--format``): ``"json"`` native, ``"csv"``, ``"chrome"``; ``"png"``/``"svg"``
   are refused (images are rendered by ``gui.render``).
2. Otherwise from the name, ignoring case and a final ``.gz``: ``.png``/``.svg`` refused as above;
   ``.csv`` CSV; ``.trace.json``, ``.chrome.json``, ``.perfetto.json`` Chrome trace; ``.json`` native,
   except ``.json.gz``, which is a Chrome trace (compressed traces are what Perfetto users share).
   Any other name is refused with a message listing these.
3. Independently of the format, a name ending in ``.gz`` is written gzip-compressed (level 1, no
   timestamp in the header, so the bytes are reproducible); readers detect gzip by content.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from procviz.engine.file_names import FORMATS, choose_format
from procviz.engine.formats.fileio import atomic_output
from procviz.engine.formats.model import require_run
from procviz.engine.formats.native_write import write_native
from procviz.engine.timeline import Timeline

__all__ = ["FORMATS", "choose_format", "write_timeline"]

# The CSV and Chrome writers are imported when first asked for: ``procviz run --out`` writes the
# native file, and their modules (the Chrome writer's track layout, threads, event templates) were
# a few ms of every run's critical path.
def _write_csv(timeline: Timeline, out: BinaryIO) -> None:
    from procviz.engine.formats.csv_write import write_csv

    write_csv(timeline, out)


def _write_chrome(timeline: Timeline, out: BinaryIO) -> None:
    from procviz.engine.formats.chrome_write import write_chrome

    write_chrome(timeline, out)


_WRITERS: dict[str, Callable[[Timeline, BinaryIO], None]] = {
    "json": write_native, "csv": _write_csv, "chrome": _write_chrome,
}


def write_timeline(timeline: Timeline, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write ``timeline`` to ``path`` in ``fmt`` (or the format its name implies; see the module doc)."""
    kind, compress = choose_format(path, fmt)
    require_run(timeline)
    with atomic_output(path, compress) as out:
        _WRITERS[kind](timeline, out)
