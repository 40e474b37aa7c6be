"""``write_timeline``: pick the format from ``fmt`` or the file name, write atomically.

The rule, first match wins:

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

from procviz.engine.formats.fileio import atomic_output
from procviz.engine.formats.model import require_run
from procviz.engine.formats.native_write import write_native
from procviz.engine.timeline import Timeline

FORMATS = ("json", "csv", "chrome")
IMAGE_FORMATS = ("png", "svg")
CHROME_SUFFIXES = (".trace.json", ".chrome.json", ".perfetto.json")


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


def choose_format(path: str | os.PathLike[str], fmt: str | None = None) -> tuple[str, bool]:
    """``(format, gzip)`` for writing ``path``; raises ValueError when it cannot tell or is an image."""
    name = os.path.basename(os.fspath(path)).lower()
    compress = name.endswith(".gz")
    base = name[:-3] if compress else name
    if fmt is not None:
        kind = fmt.lower()
        if kind in IMAGE_FORMATS:
            raise ValueError(_image_message(kind))
        if kind not in FORMATS:
            raise ValueError(f"unknown timeline format {fmt!r}; use one of {', '.join(FORMATS)}")
        return kind, compress
    for image in IMAGE_FORMATS:
        if base.endswith("." + image):
            raise ValueError(_image_message(image))
    if base.endswith(".csv"):
        return "csv", compress
    if base.endswith(CHROME_SUFFIXES) or (base.endswith(".json") and compress):
        return "chrome", compress
    if base.endswith(".json"):
        return "json", compress
    raise ValueError(f"cannot tell the format of {os.fspath(path)!r} from its name: use .json (native), .csv, "
                     ".trace.json / .json.gz (Chrome trace), or give the format (json, csv, chrome)")


def _image_message(kind: str) -> str:
    return (f"{kind.upper()} images are rendered by gui.render (the procviz command), not engine.formats; "
            f"timeline files are {', '.join(FORMATS)}")


def write_timeline(timeline: Timeline, path: str | os.PathLike[str], fmt: str | None = None) -> None:
    """Write ``timeline`` to ``path`` in ``fmt`` (or the format its name implies; see the module doc)."""
    kind, compress = choose_format(path, fmt)
    require_run(timeline)
    with atomic_output(path, compress) as out:
        _WRITERS[kind](timeline, out)
