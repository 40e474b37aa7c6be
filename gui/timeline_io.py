"""Opening, saving and exporting timelines from the window, and copying one Timeline into another.

The window shows one Timeline object for its whole life (the chart and panels subscribe to it),
so a file is read into a fresh Timeline first and copied in only once it has been read without
error: a bad file never disturbs what is on screen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from procviz.engine.file_names import IMAGE_SIZE
from procviz.engine.os_errors import os_reason
from procviz.engine.timeline import Timeline, TimelineChange


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """A choice in the Export menu: the format key the writers take, and the file suffix."""

    key: str
    label: str
    suffix: str
    image: bool = False

    @property
    def file_filter(self) -> str:
        """The filter for a file dialog, e.g. "CSV (*.csv)"."""
        return f"{self.label} (*{self.suffix})"


EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat("json", "procviz timeline (JSON)", ".json"),
    ExportFormat("csv", "CSV, one row per task", ".csv"),
    ExportFormat("chrome", "Chrome trace / Perfetto", ".trace.json"),
    ExportFormat("png", "PNG image", ".png", image=True),
    ExportFormat("svg", "SVG image", ".svg", image=True),
)
NATIVE = EXPORT_FORMATS[0]
OPEN_FILTER = ("Timelines and run configs (*.json *.csv *.trace.json *.json.gz);;procviz timeline (*.json);;"
               "CSV (*.csv);;Chrome trace (*.trace.json *.json.gz);;Run config or preset (*.json);;All files (*)")


class TimelineOpenError(Exception):
    """A file that could not be opened as a timeline; the message says which and why."""


def read_timeline_file(path: str | Path) -> Timeline:
    """Read any timeline file procviz writes; raises :class:`TimelineOpenError` with the reason."""
    from procviz.engine.formats import TimelineFileError, read_timeline

    p = Path(path)
    try:
        return read_timeline(p)
    except TimelineFileError as exc:
        raise TimelineOpenError(str(exc)) from None
    except OSError as exc:
        raise TimelineOpenError(f"{p}: cannot be read: {os_reason(exc)}") from None
    except (ValueError, KeyError, TypeError) as exc:  # a reader bug must not take the window down
        reason = f"{type(exc).__name__}: {exc}"
        raise TimelineOpenError(f"{p}: not a timeline procviz can read ({reason})") from None


def write_timeline_file(timeline: Timeline, path: str | Path, fmt: ExportFormat) -> None:
    """Write ``timeline`` to ``path`` in ``fmt`` (data formats via engine.formats, images via gui.render)."""
    p = Path(path)
    if fmt.image:
        from procviz.gui.render import render_timeline

        width, height = IMAGE_SIZE
        render_timeline(timeline, p, width, height, fmt=fmt.key)
        return
    from procviz.engine.formats import write_timeline

    write_timeline(timeline, p, fmt=fmt.key)


def format_for_path(path: str | Path, default: ExportFormat = NATIVE) -> ExportFormat:
    """The export format a file name asks for (longest matching suffix), else ``default``."""
    name = str(path).lower()
    matches = [f for f in EXPORT_FORMATS if name.endswith(f.suffix)]
    return max(matches, key=lambda f: len(f.suffix)) if matches else default


def load_into(target: Timeline, source: Timeline) -> None:
    """Make ``target`` show what ``source`` holds (one reset notification to its subscribers)."""
    if source.run is None:
        raise ValueError("the source timeline holds no run")
    target.load_columns(
        run=source.run,
        lanes=list(source.lanes),
        tasks={name: getattr(source, name).copy() for name in Timeline.TASK_COLUMNS},
        texts=dict(source.texts),
        intervals=source.intervals.data.copy(),
        resources=source.resources.data.copy(),
        spans=source.spans.data.copy(),
        span_labels=list(source.span_labels),
        status=source.status,
        now_ns=source.now_ns,
        machine=source.machine.data.copy(),
    )


def adopt_into(target: Timeline, source: Timeline, before_notify: Callable[[], None] | None = None) -> None:
    """Make ``target`` show what ``source`` holds by taking over its columns (no copy; ``source`` is
    left empty), then announce one reset to ``target``'s subscribers.

    :func:`load_into` copies every column (half a second at a million tasks, on the GUI thread);
    a file's Timeline is thrown away after opening, so its arrays can move instead. The arrays
    are the very ones the views were prepared from off the GUI thread, which is how they know
    (by identity) that the reset needs no rebuild. ``before_notify`` runs between the move and
    the announcement (the views take what was prepared for these columns).
    """
    if source.run is None:
        raise ValueError("the source timeline holds no run")
    listeners, version = target._listeners, target.version
    vars(target).update(vars(source))  # every column and record, by reference
    target._listeners, target.version = listeners, version
    Timeline.__init__(source)  # the source no longer shares anything with the target
    if before_notify is not None:
        before_notify()
    target.notify(TimelineChange(reset=True, lanes=True, tasks=True, intervals=True, resources=True,
                                 status=True, machine=True))


def kept_aside(timeline: Timeline) -> Timeline | None:
    """What ``timeline`` shows now, kept aside without copying a column (None when it holds no run).

    The result shares every array; it stays as it is because what the shown Timeline does next
    never writes into them: a run's first batch (``Timeline.begin``) replaces every column, list
    and table with new ones. Only the append-only tables' wrappers are duplicated (a status
    batch before that first one may append to them), and the lane and label lists. So starting
    a run over a million shown tasks costs nothing here (a copy took half a second).
    """
    if timeline.run is None:
        return None
    kept = Timeline()
    listeners = kept._listeners
    vars(kept).update(vars(timeline))
    kept._listeners = listeners
    kept.derived = {}  # its own figures kept per block (another thread may compute them)
    for name in ("intervals", "resources", "spans", "machine"):
        setattr(kept, name, copy.copy(getattr(timeline, name)))
    kept.lanes, kept.span_labels = list(timeline.lanes), list(timeline.span_labels)
    return kept
