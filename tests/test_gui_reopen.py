"""Opening a file, before or after a live run, shows that file alone: its lanes, labels and numbers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from gui_helpers import make_window, open_and_wait, run_and_wait  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.formats import read_timeline, write_timeline  # noqa: E402
from procviz.engine.metrics import compute_metrics, peak_concurrency  # noqa: E402
from procviz.engine.runner import Engine  # noqa: E402
from procviz.gui.gantt.tooltip import lane_labels  # noqa: E402

FORMATS = {"json": ".json", "csv": ".csv", "chrome": ".trace.json"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One real 3-worker run written in every data format."""
    engine = Engine()
    engine.start(parse_config({"workers": 3, "workload": {"kind": "sleep", "count": 9, "duration_ms": 30}}))
    result = engine.join(90)
    assert result is not None and result.outcome == "completed", result
    folder = tmp_path_factory.mktemp("reopen")
    out = {}
    for key, suffix in FORMATS.items():
        out[key] = folder / f"run{suffix}"
        write_timeline(result.timeline, out[key], fmt=key)
    return out


def assert_shows(window, path) -> None:
    """Chart labels, table, metrics and progress all describe the file's run."""
    window.gantt.flush()
    expected = read_timeline(path)
    assert window.gantt.lane_axis.labels == lane_labels(expected.lanes)
    assert [lane.pid for lane in window.timeline.lanes] == [lane.pid for lane in expected.lanes]
    assert window.tasks.model.rowCount() == expected.n_tasks
    metrics = compute_metrics(window.timeline)
    assert metrics.tasks == expected.n_tasks
    assert 0.0 < metrics.utilization <= 1.0 + 1e-9


@pytest.mark.parametrize("key", list(FORMATS))
def test_opening_a_file_first_shows_its_lanes(qtbot, tmp_path, files, key) -> None:
    window = make_window(qtbot, tmp_path)
    assert window.open_file(files[key]), window.errors
    assert_shows(window, files[key])


def test_opening_files_after_a_live_run_replaces_the_runs_labels(qtbot, tmp_path, files) -> None:
    window = make_window(qtbot, tmp_path)
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 4, "duration_ms": 10}}))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed"
    window.gantt.flush()
    live = lane_labels(window.timeline.lanes)
    assert window.gantt.lane_axis.labels == live
    for key in FORMATS:
        assert window.open_file(files[key]), window.errors
        assert_shows(window, files[key])
        assert window.gantt.lane_axis.labels != live


def test_an_empty_json_file_is_reported_as_json(qtbot, tmp_path) -> None:
    window = make_window(qtbot, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert not window.open_file(empty)
    (title, text), = window.errors
    assert "JSON" in text and "CSV" not in text and "header" not in text


def test_peak_concurrency_counts_overlaps_and_not_touching_ends() -> None:
    import numpy as np

    assert peak_concurrency(np.array([0, 10, 20]), np.array([10, 20, 30])) == 1
    assert peak_concurrency(np.array([0, 5, 6]), np.array([10, 20, 7])) == 3
    assert peak_concurrency(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0


def test_a_csv_says_what_it_cannot_know(qtbot, tmp_path, files) -> None:
    window = make_window(qtbot, tmp_path)
    assert open_and_wait(qtbot, window, files["csv"]), window.errors
    text = window.progress.detail.text()
    assert "no run configuration" in text and "no worker states" in text
    assert open_and_wait(qtbot, window, files["json"]), window.errors
    assert "this timeline has" not in window.progress.detail.text()
