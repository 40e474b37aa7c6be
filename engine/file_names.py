"""A timeline file's format, told from its name or a ``--format`` (the rule is in
:mod:`procviz.engine.formats.write`).

Standard library only: ``procviz run`` checks its ``--out`` before the run, before it imports numpy
and the formats (a run is not made only to be lost to a name no writer takes).
"""

from __future__ import annotations

import os

FORMATS = ("json", "csv", "chrome")
IMAGE_FORMATS = ("png", "svg")
IMAGE_SIZES = (100, 20000)  # a picture's width and height, in pixels (gui.render checks them)
IMAGE_SIZE = (1600, 900)  # a picture's width and height when none is given
CHROME_SUFFIXES = (".trace.json", ".chrome.json", ".perfetto.json")


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
