"""The SVG export is plain shapes any renderer draws like the PNG: checked with cairosvg."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from synthetic import synth_timeline  # noqa: E402

from procviz.gui.export_picture import RectGroup  # noqa: E402
from procviz.gui.gantt.tooltip import lane_labels  # noqa: E402
from procviz.gui.render import render_timeline  # noqa: E402

cairosvg = pytest.importorskip("cairosvg")
SVG = "{http://www.w3.org/2000/svg}"
W, H = 1200, 700


@pytest.fixture
def timeline():
    tl = synth_timeline(n_tasks=120, n_lanes=4, chunksize=3, failed=(10,), cancelled=(20,), spans=3,
                        exit_lanes=(2,), mean_ms=20.0, min_ms=2.0)
    tl.run = type(tl.run)(**{**{f: getattr(tl.run, f) for f in tl.run.__dataclass_fields__},
                             "config": {"backend": "pool", "workers": 4, "api": "map", "chunksize": 3,
                                        "workload": {"kind": "cpu", "count": 120}}})
    return tl


def as_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).astype(np.int16)


@pytest.fixture
def both(qapp, tmp_path, timeline):
    png, svg = tmp_path / "chart.png", tmp_path / "chart.svg"
    picture = render_timeline(timeline, png, W, H)
    render_timeline(timeline, svg, W, H)
    cairo_png = tmp_path / "cairo.png"
    cairosvg.svg2png(url=str(svg), write_to=str(cairo_png), output_width=W, output_height=H)
    return picture, svg, as_array(QImage(str(png))), as_array(QImage(str(cairo_png)))


def test_svg_is_plain_shapes_in_pixels_with_generic_fonts(both) -> None:
    _, svg, _, _ = both
    text = svg.read_text()
    root = ET.fromstring(text)
    assert root.get("width") == f"{W}px" and root.get("height") == f"{H}px"
    assert root.get("viewBox") == f"0 0 {W} {H}"
    assert "vector-effect" not in text and "<image" not in text and "matrix(" not in text
    assert "transform" not in text
    families = set(re.findall(r'font-family="([^"]+)"', text))
    assert families == {"sans-serif"}


def test_svg_and_png_show_the_same_lanes_and_bars_in_the_same_places(both, timeline) -> None:
    picture, _, png, cairo = both
    assert png.shape == cairo.shape == (H, W, 3)
    left, right, top, row_h, lanes = picture.chart
    assert lanes == len(timeline.lanes)
    # The chart area pixel by pixel: renderers differ only at antialiased text and edges.
    area = (slice(int(top), int(top + row_h * lanes)), slice(int(left), int(right)))
    differs = np.abs(png[area] - cairo[area]).max(axis=2) > 64
    assert differs.mean() < 0.02, differs.mean()
    # Every bar of at least 6 px: the same colour at its top-left inside corner in both pictures.
    bars = [s for s in picture.shapes if isinstance(s, RectGroup) and s.xywh[:, 3].max(initial=0) > 0.4 * row_h]
    checked = 0
    for group in bars:
        for x, y, w, _h in group.xywh:
            if w >= 6 and x >= left:
                px, py = int(x + 3), int(y + 2)
                assert np.abs(png[py, px] - cairo[py, px]).max() <= 24, (group.fill, x, y)
                checked += 1
    assert checked >= 20


def test_the_picture_carries_title_config_metrics_and_lane_labels(both, timeline) -> None:
    _, svg, _, _ = both
    texts = ["".join(t.itertext()) for t in ET.parse(svg).getroot().iter(f"{SVG}text")]
    assert texts[0].startswith("procviz timeline")
    assert any("pool · 4 workers" in t and "chunksize 3" in t for t in texts)
    assert any("makespan" in t and "slot occupancy" in t for t in texts)
    for label in lane_labels(timeline.lanes):
        assert label in texts
    x_of_labels = [float(t.get("x")) for t in ET.parse(svg).getroot().iter(f"{SVG}text")
                   if "".join(t.itertext()) in lane_labels(timeline.lanes)]
    assert all(x > 40 for x in x_of_labels)  # end-anchored in a margin, never at the edge
