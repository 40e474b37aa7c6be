"""The metrics panel: every figure's definition one hover away, a measured serial baseline used
when one was shown, and the machine lane drawn as own / other columns."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from procviz.engine.events import (  # noqa: E402
    END_DTYPE,
    MACHINE_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    RunPhase,
    RunStatus,
    TaskState,
)
from procviz.engine.metrics import DEFINITIONS  # noqa: E402
from procviz.engine.timeline import Timeline  # noqa: E402
from procviz.gui.panels.metrics_panel import SUMMARY_LABELS, MetricsPanel  # noqa: E402
from procviz.gui.timeline_io import load_into  # noqa: E402

MS = 1_000_000
WORKLOAD = {"kind": "cpu", "count": 2, "duration_ms": 50}


def two_tasks(backend: str, workers: int, gap_ms: int) -> Timeline:
    """Two 50 ms tasks: back to back (gap 50) or side by side (gap 0), with a machine lane."""
    tl = Timeline()
    run = RunInfo(2, 0, {"backend": backend, "workers": workers, "workload": WORKLOAD}, "h", 2, True)
    machine = np.array([(0, 100 * MS, 2, 0.9, 0.4)], MACHINE_DTYPE)
    tl.apply(EngineBatch(run=run, lanes=(LaneInfo(0, 1, 1, "process", "w0"), LaneInfo(1, 2, 2, "process", "w1")),
                         submitted=np.array([(0, 0), (1, 0)], SUBMIT_DTYPE),
                         started=np.array([(0, 0, 0), (1, 1, gap_ms * MS)], START_DTYPE),
                         ended=np.array([(0, 0, TaskState.DONE, -1, 50 * MS, 50 * MS, 0),
                                         (1, 1, TaskState.DONE, -1, (gap_ms + 50) * MS, 50 * MS, 0)], END_DTYPE),
                         machine=machine, status=RunStatus(RunPhase.FINISHED, "done", "completed")))
    return tl


def test_every_figure_has_its_definition_as_tooltip(qtbot) -> None:
    panel = MetricsPanel(two_tasks("pool", 2, 0))
    qtbot.addWidget(panel)
    for key, (_, help_text) in SUMMARY_LABELS.items():
        assert panel.values[key].toolTip() == help_text and help_text
    assert panel.values["speedup"].toolTip() == DEFINITIONS["speedup"]
    header = panel.lanes.horizontalHeaderItem(panel.lanes.columnCount() - 1)
    assert header.text() == "Utilization" and header.toolTip() == DEFINITIONS["lane_utilization"]
    assert "estimate" in panel.text("speedup")
    assert "other programs used 50%" in panel.text("other_load")  # busy 0.9 - own 0.4


def test_a_serial_run_shown_earlier_is_the_measured_baseline(qtbot) -> None:
    shown = Timeline()
    panel = MetricsPanel(shown)
    qtbot.addWidget(panel)
    load_into(shown, two_tasks("serial", 1, 50))  # 100 ms of work, serially
    assert panel.baseline is not None and panel.baseline.work_ns == 100 * MS
    load_into(shown, two_tasks("pool", 2, 0))  # the same work in 50 ms
    assert panel.metrics is not None and panel.metrics.speedup_measured
    assert abs(panel.metrics.speedup - 2.0) < 1e-9 and "measured" in panel.text("speedup")


def test_machine_lane_stacks_own_below_other(qtbot) -> None:
    panel = MetricsPanel(two_tasks("pool", 2, 0))
    qtbot.addWidget(panel)
    own, other = panel.machine.columns(100.0, 40.0)
    assert len(own) == 1 and len(other) == 1
    assert np.isclose(own[0, 3], 0.4 * 40) and np.isclose(other[0, 3], 0.5 * 40)
    assert np.isclose(own[0, 1] + own[0, 3], 40.0) and np.isclose(other[0, 1] + other[0, 3], own[0, 1])
