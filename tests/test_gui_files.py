"""Files from the window: save, export every format, reopen, drag and drop, recent files."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import EVENT_BOUND_MS, make_window  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.formats import read_timeline, write_timeline  # noqa: E402
from procviz.engine.runner import Engine  # noqa: E402
from procviz.gui.timeline_io import EXPORT_FORMATS, NATIVE, format_for_path  # noqa: E402

BAR_COLUMNS = ("start_ns", "end_ns", "lane", "state")


def record(count: int):
    """The timeline of a real run of ``count`` short sleeps on 2 workers, recorded without any GUI."""
    engine = Engine()
    engine.start(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": count, "duration_ms": 20}}))
    result = engine.join(90)
    assert result is not None and result.outcome == "completed", result
    return result.timeline


@pytest.fixture(scope="module")
def recorded():
    """A real run's timeline, recorded once."""
    return record(10)


@pytest.fixture
def window(window, recorded):
    """The shared window (conftest.py) showing the recorded run."""
    from procviz.gui.timeline_io import load_into

    load_into(window.timeline, recorded)
    window._update_actions()
    return window


def bars(tl) -> dict[str, np.ndarray]:
    """Bar columns with times relative to the run start (CSV keeps run-relative times only)."""
    out = {name: getattr(tl, name).copy() for name in BAR_COLUMNS}
    for name in ("start_ns", "end_ns"):
        out[name] = np.where(out[name] >= 0, out[name] - tl.t0_ns, -1)
    return out


def lanes_kept(tl, csv: bool) -> list[tuple[int, str]]:
    """(pid, name) of ``tl``'s lanes as a file of that format keeps them.

    CSV has one row per task and nothing else, so it can only carry a lane some task ran on: under
    load one worker of the recorded run may get no task at all (the other drains the queue first).
    Such a lane comes back as a placeholder (pid 0, no name) when a later lane has tasks, and not at
    all when it is the last. Every lane a task ran on must still come back with its real pid.
    """
    if not csv:
        return [(lane.pid, lane.name) for lane in tl.lanes]
    used = set(tl.lane[tl.lane >= 0].tolist())
    top = max(used, default=-1)
    return [(lane.pid, lane.name) if lane.index in used else (0, "") for lane in tl.lanes[: top + 1]]


def same_lanes_and_bars(a, b, csv: bool = False) -> None:
    """``a`` (read back from a file) has ``b``'s lanes, as far as the format keeps them, and its bars."""
    assert [(lane.pid, lane.name) for lane in a.lanes] == lanes_kept(b, csv)
    bars_a, bars_b = bars(a), bars(b)
    for name in BAR_COLUMNS:
        np.testing.assert_array_equal(bars_a[name], bars_b[name], err_msg=name)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS, ids=[f.key for f in EXPORT_FORMATS])
def test_every_export_format_writes_a_file(window, tmp_path, fmt, recorded) -> None:
    path = tmp_path / f"out{fmt.suffix}"
    assert window.save_file(path, fmt), window.errors
    assert path.stat().st_size > 100
    head = path.read_bytes()[:200]
    if fmt.key == "png":
        assert head.startswith(b"\x89PNG")
    elif fmt.key == "svg":
        assert b"<svg" in path.read_bytes()[:2000] or b"<?xml" in head
    else:
        same_lanes_and_bars(read_timeline(path), recorded, csv=fmt.key == "csv")


def test_csv_keeps_every_lane_a_task_ran_on(tmp_path) -> None:
    """Two workers, one task: one worker surely runs nothing, the case load can cause in ``recorded``."""
    tl = record(1)
    assert [lane.kind for lane in tl.lanes].count("process") == 2  # the idle worker has a lane too
    path = tmp_path / "one.csv"
    write_timeline(tl, path)
    same_lanes_and_bars(read_timeline(path), tl, csv=True)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".trace.json"])
def test_open_accepts_native_csv_and_chrome_trace(qtbot, window, tmp_path, suffix, recorded) -> None:
    path = tmp_path / f"saved{suffix}"
    assert window.save_file(path), window.errors
    assert format_for_path(path).suffix == suffix
    other = make_window(qtbot, tmp_path / "other")
    assert other.open_file(path), other.errors
    same_lanes_and_bars(other.timeline, recorded, csv=suffix == ".csv")
    assert other.windowTitle().endswith(path.name)
    assert other.actions_.save.isEnabled()


def test_export_dialog_adds_the_suffix_and_uses_the_chosen_format(window, tmp_path) -> None:
    asked = []

    def ask(title, suggested, filters):
        asked.append((title, suggested, filters))
        return str(tmp_path / "picked")

    window.files.ask_save_path = ask
    csv = next(f for f in EXPORT_FORMATS if f.key == "csv")
    window.export_dialog(csv)
    assert (tmp_path / "picked.csv").exists()
    assert asked[-1][2] == csv.file_filter
    window.actions_.save.trigger()
    assert (tmp_path / "picked.json").exists()
    assert "Save" in asked[-1][0] and asked[-1][2] == NATIVE.file_filter


def test_export_with_all_formats_picks_the_format_from_the_name(window, tmp_path) -> None:
    window.files.ask_save_path = lambda title, suggested, filters: str(tmp_path / "x.trace.json")
    window.actions_.export.trigger()
    assert read_timeline(tmp_path / "x.trace.json").n_tasks == window.timeline.n_tasks
    assert window.errors == []


def test_unwritable_path_shows_an_error(window, tmp_path) -> None:
    assert window.save_file(tmp_path / "no-such-dir" / "x.json") is False
    assert "no-such-dir" in window.errors[-1][1]


def test_save_errors_say_why_without_errno_and_a_named_pipe_is_refused(window, tmp_path) -> None:
    """The window showed "[Errno 21] Is a directory: '/tmp/.../folder'" where the command line says
    "it is a folder"; and a save into a named pipe (written on the GUI thread) froze it until a
    program read it all: for good when none did."""
    (tmp_path / "folder.json").mkdir()
    assert window.save_file(tmp_path / "folder.json") is False
    assert window.errors[-1][1] == f"{tmp_path / 'folder.json'}: it is a folder"
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert window.save_file(fifo) is False
    assert time.monotonic() - started < 30
    assert window.errors[-1][1].endswith("it is a named pipe; the window writes files (procviz export writes "
                                         "into a pipe)")
    assert "Errno" not in window.errors[-1][1]


def test_a_data_file_is_written_off_the_gui_thread_which_keeps_painting(qtbot, window, tmp_path, monkeypatch) -> None:
    """Written on the GUI thread, a million-task timeline froze the window for the whole write."""
    import threading

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QProgressDialog

    import procviz.gui.background_write as background_write

    write = background_write.write_timeline_file
    seen: list[str] = []

    def slow(*args, **kwargs):
        seen.append(threading.current_thread().name)
        time.sleep(0.6)
        return write(*args, **kwargs)

    monkeypatch.setattr(background_write, "write_timeline_file", slow)
    ticks: list[float] = []
    shown: list[str] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.timeout.connect(lambda: shown.extend(d.labelText() for d in window.findChildren(QProgressDialog)
                                               if d.isVisible()))
    timer.start()
    path = tmp_path / "t.json"
    started = time.monotonic()
    assert window.save_file(path), window.errors
    timer.stop()
    assert seen == ["procviz-write-file"]
    assert len([t for t in ticks if t > started]) >= 10, "the window's event loop ran while it wrote"
    assert shown and shown[0].startswith("Writing t.json…"), "its dialog showed (after 0.3 s, not Qt's 4 s)"
    assert read_timeline(path).n_tasks == window.timeline.n_tasks

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(background_write, "write_timeline_file", out_of_memory)
    assert window.save_file(tmp_path / "u.json") is False
    assert window.errors[-1] == ("Cannot write the file", f"{tmp_path / 'u.json'}: MemoryError")


def test_open_dialog_and_recent_files(qtbot, window, tmp_path, recorded) -> None:
    path = tmp_path / "r.json"
    window.save_file(path)
    other = make_window(qtbot, tmp_path / "other")
    other.files.ask_open_path = lambda title: str(path)
    other.actions_.open.trigger()
    same_lanes_and_bars(other.timeline, recorded)
    other.recent_menu.aboutToShow.emit()
    texts = [a.text() for a in other.recent_menu.actions()]
    assert str(path.resolve()) in texts


def test_drop_a_file_onto_the_window_opens_it(qtbot, window, tmp_path, recorded) -> None:
    path = tmp_path / "dropped.json"
    window.save_file(path)
    other = make_window(qtbot, tmp_path / "other")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(other.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    other.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(other.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    other.dropEvent(drop)
    qtbot.waitUntil(lambda: other.timeline.run is not None, timeout=EVENT_BOUND_MS)
    same_lanes_and_bars(other.timeline, recorded)
