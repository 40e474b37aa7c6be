"""Where a finished run's timeline goes when the file it was asked for cannot be written.

``procviz run --out`` checks its path before the run (engine/out_place.py), but what happens
during the run is not the check's: a folder removed meanwhile, a disk that filled up, a pipe's
reader that left. The run may have taken minutes and cannot be made again as it was; its timeline
is then kept as native JSON (lossless: ``procviz export`` makes any other format from it) in the
system's folder for temporary files, under a name of its own, and the command says where.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from procviz.engine.formats import write_timeline
from procviz.engine.os_errors import os_reason
from procviz.engine.timeline import Timeline

PREFIX = "procviz-run-"


def keep_elsewhere(timeline: Timeline) -> tuple[Path | None, str]:
    """Write ``timeline`` as native JSON to a new file in the temporary files' folder: (its path,
    "") or, if that fails too, (None, why, in words that name the folder). The file is left there
    for the user."""
    folder = tempfile.gettempdir()
    try:
        fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=".json", dir=folder)
    except OSError as exc:
        return None, f"nor could it be kept in {folder}: {os_reason(exc)}"
    os.close(fd)
    path = Path(name)
    try:
        write_timeline(timeline, path, fmt="json")
    except (OSError, ValueError) as exc:
        try:
            path.unlink()
        except OSError:
            pass
        return None, f"nor could it be kept in {folder}: " + (os_reason(exc) if isinstance(exc, OSError) else str(exc))
    return path, ""
