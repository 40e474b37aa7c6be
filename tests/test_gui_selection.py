"""The window's chart and table agree on the selected task; real runs show every task apart."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import run_and_wait  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from test_gantt_tasks import DONE_COLOURS, bar_runs  # noqa: E402
from test_gantt_widget import bar_point  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.events import TaskState  # noqa: E402
from procviz.gui.presets import load_presets  # noqa: E402


@pytest.fixture
def window(run_window):
    """These tests use the live-run window at 1280x720 (conftest's run_window)."""
    return run_window



def preset_config(name_prefix: str, ms: int) -> dict:
    """A shipped preset's config with every task's sleep shortened to ``ms``."""
    presets, _ = load_presets()
    preset = next(p for p in presets if p.path.name.startswith(name_prefix))
    config = dict(preset.config)
    workload = dict(config["workload"])
    workload["args"] = [[a[0], ms] for a in workload["args"]]
    config["workload"] = workload
    return config


def test_serial_preset_shows_ten_tasks_apart_and_grouped_in_chunks(qtbot, window) -> None:
    window.form.set_value(parse_config(preset_config("02_serial", 300)))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed", result.message
    tl = window.timeline
    assert tl.n_tasks == 10 and np.all(tl.state == TaskState.DONE)
    window.gantt.zoom_to_fit()
    window.gantt.flush()
    image = window.gantt.grab().toImage()
    assert len(bar_runs(window.gantt, image, int(tl.lane[0]), DONE_COLOURS)) == 10
    assert np.any(window.gantt.model.tasks[int(tl.lane[0])].shade)  # Pool.map's chunks are grouped


@pytest.mark.parametrize("prefix", ["03_pool3_apply", "04_pool3_apply_async"])
def test_apply_runs_have_no_chunk_grouping(qtbot, window, prefix) -> None:
    window.form.set_value(parse_config(preset_config(prefix, 100)))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed", result.message
    window.gantt.flush()
    assert all(not np.any(s.shade) for s in window.gantt.model.tasks)


def test_click_a_bar_selects_its_row_and_outlines_it_and_back(qtbot, window) -> None:
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 8, "duration_ms": 60}}))
    run_and_wait(qtbot, window)
    tl, chart = window.timeline, window.gantt
    chart.zoom_to_fit()
    chart.flush()
    qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.LeftButton, pos=bar_point(chart, tl, 5))
    assert window.tasks.selected_task() == 5
    assert chart.selected_task() == 5
    # From the table: the chart outlines the row's task and brings it into view.
    chart.view_box.setXRange(-10.0, -9.0, padding=0)
    assert not chart.bar_in_view(2)
    window.tasks.select_task(2)
    assert chart.selected_task() == 2
    assert chart.bar_in_view(2)


def test_search_box_filters_the_table_and_marks_the_chart(qtbot, window) -> None:
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 8, "duration_ms": 10}}))
    run_and_wait(qtbot, window)
    window.tasks.search.setText("2-4")
    assert window.tasks.model.rowCount() == 3
    assert window.gantt.item._matches.tolist() == [2, 3, 4]
    window.tasks.search.setText("")
    assert window.tasks.model.rowCount() == 8
    assert len(window.gantt.item._matches) == 0
