"""render_timeline: PNG and SVG of the chart, offscreen, small for big runs, clear errors."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess  # noqa: E402
import sys  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from synthetic import synth_timeline  # noqa: E402

from procviz.engine.events import TaskState, WorkerState  # noqa: E402
from procviz.gui import colors  # noqa: E402
from procviz.gui.gantt.tooltip import lane_labels  # noqa: E402
from procviz.gui.render import render_timeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def timeline():
    return synth_timeline(n_tasks=200, n_lanes=4, chunksize=2, failed=(10,), cancelled=(20,), spans=2,
                          exit_lanes=(2,))


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]


def colour_count(image: QImage, hex_color: str) -> int:
    target = hex_color.upper()
    step = 2
    return sum(image.pixelColor(x, y).name().upper() == target
               for y in range(0, image.height(), step) for x in range(0, image.width(), step))


def test_png_has_the_requested_size_and_shows_bars_and_strip(qapp, tmp_path, timeline):
    path = tmp_path / "chart.png"
    render_timeline(timeline, path, width=640, height=400)
    image = QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (640, 400)
    assert colour_count(image, colors.TASK_STATE_COLORS[TaskState.DONE]) > 100
    assert colour_count(image, colors.WORKER_STATE_COLORS[WorkerState.RUNNING]) > 100
    assert colour_count(image, colors.WORKER_STATE_COLORS[WorkerState.NEW]) > 10


def test_svg_parses_and_labels_each_lane_once(qapp, tmp_path, timeline):
    path = tmp_path / "chart.svg"
    render_timeline(timeline, path, width=1200, height=700)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 1200 700"
    texts = svg_texts(path)
    for label in lane_labels(timeline.lanes):
        assert texts.count(label) == 1, label
    assert any("worker's OS state" in t for t in texts) and "terminated" in texts  # the legend is in the picture
    assert colors.TASK_STATE_COLORS[TaskState.DONE].lower() in path.read_text().lower()


def test_format_argument_wins_over_the_extension(qapp, tmp_path, timeline):
    path = tmp_path / "chart.out"
    render_timeline(timeline, path, width=300, height=200, fmt="SVG")
    assert ET.parse(path).getroot().tag == f"{SVG}svg"


def test_svg_of_200k_tasks_stays_small(qapp, tmp_path):
    big = synth_timeline(n_tasks=200_000, n_lanes=8, mean_ms=1.0, failed=(5, 150_000))
    path = tmp_path / "big.svg"
    render_timeline(big, path)
    size = path.stat().st_size
    assert size < 2_000_000, size
    assert ET.parse(path).getroot().tag == f"{SVG}svg"
    assert colors.TASK_STATE_COLORS[TaskState.FAILED].lower() in path.read_text().lower()  # not merged away


@pytest.mark.parametrize("name, fmt", [("x.gif", None), ("x.png", "jpeg"), ("noext", None), ("x.svgz", None)])
def test_unknown_formats_are_refused_before_writing(qapp, tmp_path, timeline, name, fmt):
    with pytest.raises(ValueError, match="png, svg"):
        render_timeline(timeline, tmp_path / name, fmt=fmt)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("width, height", [(99, 500), (500, 20001), (0, 0), (500.5, 400), (True, 400), ("800", 600)])
def test_bad_sizes_are_refused(qapp, tmp_path, timeline, width, height):
    with pytest.raises(ValueError, match="100 to 20000"):
        render_timeline(timeline, tmp_path / "x.png", width=width, height=height)
    assert list(tmp_path.iterdir()) == []


def test_renders_without_a_display_or_an_existing_application(tmp_path):
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from synthetic import synth_timeline\n"
        "from procviz.gui.render import render_timeline\n"
        "from PySide6.QtWidgets import QApplication\n"
        "assert QApplication.instance() is None\n"
        f"render_timeline(synth_timeline(n_tasks=50, n_lanes=2), {str(tmp_path / 'a.png')!r}, 320, 240)\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
    assert QImage(str(tmp_path / "a.png")).size().width() == 320


def test_an_empty_timeline_renders(qapp, tmp_path):
    from procviz.engine.timeline import Timeline

    path = tmp_path / "empty.png"
    render_timeline(Timeline(), path, width=200, height=150)
    assert QImage(str(path)).size().height() == 150


def test_thread_and_parent_lanes_are_labelled_in_the_svg(qapp, tmp_path):
    from dataclasses import replace

    tl = synth_timeline(n_tasks=60, n_lanes=3)
    tl.lanes[0] = replace(tl.lanes[0], kind="thread")
    tl.lanes[1] = replace(tl.lanes[1], kind="thread")
    tl.lanes[2] = replace(tl.lanes[2], kind="parent")
    path = tmp_path / "threads.svg"
    render_timeline(tl, path, width=900, height=500)
    texts = svg_texts(path)
    assert "thread 0 · tid 9000" in texts and "thread 1 · tid 9001" in texts
    assert "parent · callbacks" in texts
