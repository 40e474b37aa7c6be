"""Whether a command's output file can be written, checked before the work that makes it.

``procviz run`` checks its ``--out`` before the run (a run made only to be lost at its end is the
worst way to learn of a typo) and ``procviz export`` before it reads its input: the checks here
find what the write itself would meet (the folder the path's links lead to, a temporary made there
and removed, the name's length, the format) and say it in a person's words.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from procviz.engine.file_names import IMAGE_FORMATS, IMAGE_SIZES, choose_format
from procviz.engine.os_errors import os_reason


def out_problem(path: Path, fmt: str | None, images: bool) -> str:
    """What keeps a timeline (or, with ``images``, a picture) from being written to ``path``;
    "" when nothing does."""
    if str(path) == "-":  # (read as the standard input by export: written, it made a file named "-")
        return "'-' is not a file name here; for the standard output give /dev/stdout and --format"
    try:
        problem = place_problem(path)
    except OSError as exc:  # (a name too long, a loop of links, ... as the system says it)
        problem = os_reason(exc)
    if problem:
        return problem
    if (fmt or image_format(path)) in IMAGE_FORMATS:
        return "" if images else "PNG/SVG need the GUI package: use the procviz command"
    try:
        choose_format(path, fmt)
    except ValueError as exc:
        if path.name.lower().endswith(tuple(f".{kind}.gz" for kind in IMAGE_FORMATS)):
            return "a picture is written as .png or .svg, not compressed"
        return f"{exc}, or .png / .svg for a picture"
    return ""


def place_problem(path: Path) -> str:
    """What keeps a file from being written at ``path``, found as the write finds it: the folder
    the path's links lead to, and a temporary made there and removed; raises OSError for what the
    system refuses on the way (a loop of links, a name too long)."""
    from procviz.engine.formats.tmpfiles import TempOutput, name_max

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:  # a new file, or a link to one
        mode = stat.S_IFREG
    if stat.S_ISDIR(mode):
        return "it is a folder"
    if not stat.S_ISREG(mode):
        return ""  # a device or a named pipe: written into (engine/formats/fileio.py)
    real = Path(os.path.realpath(path))
    for folder in (path.parent, real.parent):  # (the user's own words first)
        if not folder.exists():
            return f"folder {folder} does not exist"
        if not folder.is_dir():
            return f"{folder} is not a folder"
    if len(os.fsencode(real.name)) > name_max(real.parent):
        return "file name too long"
    TempOutput(real).discard()  # (nameless where the system allows: nothing to see, nothing left)
    return ""


def image_format(path: Path) -> str | None:
    """"png" or "svg" when ``path``'s extension says so, else None."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in IMAGE_FORMATS else None


def size_problem(path: Path, fmt: str | None, width: int | None, height: int | None) -> str:
    """What is wrong with a picture size given for the output ``path`` ("" when nothing): a size
    for a timeline file, or one out of range."""
    sizes = {name: value for name, value in (("--width", width), ("--height", height)) if value is not None}
    if not sizes:
        return ""
    if (fmt or image_format(path)) not in IMAGE_FORMATS:
        return f"{' and '.join(sizes)} size{'' if len(sizes) > 1 else 's'} a picture (.png / .svg), not a timeline file"
    low, high = IMAGE_SIZES
    return next((f"{name} must be from {low} to {high} pixels (got {value})" for name, value in sizes.items()
                 if not low <= value <= high), "")
