"""One source of truth: progress, metrics and the task table show the same moment of a live run."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import run_and_wait, wait_numbers  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.events import TaskState  # noqa: E402
from procviz.gui.panels.task_table import STATE_FILTERS  # noqa: E402


@pytest.fixture
def window(run_window):
    """These tests use the live-run window at 1280x720 (conftest's run_window)."""
    return run_window



def shown_numbers(window) -> dict[str, int]:
    """What each panel shows: progress counts, metrics counts, rows of the "done" table filter."""
    progress, metrics = window.progress.counts, window.metrics.metrics
    return {
        "progress done": progress.get(TaskState.DONE, 0),
        "metrics done": metrics.done if metrics else 0,
        "table done rows": window.tasks.model.rowCount(),
        "progress cancelled": progress.get(TaskState.CANCELLED, 0),
        "metrics cancelled": metrics.cancelled if metrics else 0,
    }


def test_progress_metrics_and_table_agree_at_every_drain(qtbot, window) -> None:
    done_filter = [label for label, _ in STATE_FILTERS].index("done")
    window.tasks.filter.setCurrentIndex(done_filter)
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 30, "duration_ms": 40}}))
    seen: list[dict[str, int]] = []
    clock_ahead: list[bool] = []

    def check() -> None:
        seen.append(shown_numbers(window))
        tl = window.timeline
        if window.progress.live:
            clock_ahead.append(window.progress.elapsed_s() >= (tl.now_ns - tl.t0_ns) / 1e9)

    window.bridge.ticked.connect(check)
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed"
    check()
    assert len(seen) > 2
    for numbers in seen:
        assert numbers["progress done"] == numbers["metrics done"] == numbers["table done rows"], numbers
        assert numbers["progress cancelled"] == numbers["metrics cancelled"], numbers
    assert seen[-1]["progress done"] == 30
    assert clock_ahead and all(clock_ahead)
    assert window.progress.bar.format() == "30 / 30 finished"


def test_a_stopped_run_shows_its_cancelled_tasks_apart(qtbot, window) -> None:
    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 24, "duration_ms": 500}}))
    with qtbot.waitSignal(window.bridge.runFinished, timeout=90_000) as blocker:
        assert window.start_run()
        qtbot.waitUntil(lambda: np.count_nonzero(window.timeline.state == TaskState.DONE) >= 1, timeout=60_000)
        window.stop_run()
    assert blocker.args[0].outcome == "stopped"
    wait_numbers(qtbot, window)
    tl = window.timeline
    done = int(np.count_nonzero(tl.state == TaskState.DONE))
    cancelled = int(np.count_nonzero(tl.state == TaskState.CANCELLED))
    assert cancelled > 0
    text = window.progress.bar.format()
    assert f"{done} done" in text and f"{cancelled} cancelled" in text
    assert window.progress.bar.value() == done < window.progress.bar.maximum()
    assert window.metrics.metrics.cancelled == cancelled


def test_a_reset_that_brings_finished_tasks_shows_no_panel_ahead_of_the_others(qtbot, window) -> None:
    # A loaded machine: the first tick of a run applies the run's start and its first finished
    # tasks at once (one reset). The table must not show them before progress and metrics do.
    from synthetic import synth_batches

    from procviz.engine.timeline import TimelineChange

    done_filter = [label for label, _ in STATE_FILTERS].index("done")
    window.tasks.filter.setCurrentIndex(done_filter)
    tl = window.timeline
    for batch in synth_batches(n_tasks=40, n_lanes=2, batches=3):
        tl.apply(batch, notify=False)
    tl.notify(TimelineChange(reset=True, lanes=True, tasks=True, intervals=True, status=True))
    now = shown_numbers(window)
    assert now["progress done"] == now["metrics done"] == now["table done rows"], now
    wait_numbers(qtbot, window)
    now = shown_numbers(window)
    assert now["progress done"] == now["metrics done"] == now["table done rows"] == 40, now


def test_a_reset_takes_its_copy_in_a_pass_of_its_own_not_inside_the_tick(qtbot, window) -> None:
    # The frozen copy of a run's columns costs ~4 ms at 100k tasks: inside the tick that applied
    # the run's start it lengthened that tick's slice of the GUI thread. It comes in the next pass.
    from synthetic import synth_batches

    from procviz.engine.timeline import TimelineChange

    numbers = window.live_numbers
    wait_numbers(qtbot, window)
    tl = window.timeline
    for batch in synth_batches(n_tasks=40, n_lanes=2, batches=3):
        tl.apply(batch, notify=False)
    refreshes = numbers.refreshes
    tl.notify(TimelineChange(reset=True, lanes=True, tasks=True, intervals=True, status=True))
    assert numbers._out is None and not numbers.settled  # noqa: SLF001 - no job out yet: one is due
    wait_numbers(qtbot, window)
    assert numbers.refreshes > refreshes
    assert shown_numbers(window)["metrics done"] == 40


def test_long_tasks_still_move_the_figures_and_none_reads_as_zero(qtbot, window) -> None:
    """Two 4 s tasks on 2 workers: no task changes for seconds, but the strips and the machine lane
    do; the figures used to wait for a task's end (other load "none read yet", an empty machine lane
    for 4 s), and read 0.000 s and 0.0 % for what had not happened yet."""
    from procviz.engine.metrics import NONE_ENDED

    window.form.set_value(parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 2, "duration_ms": 4000}}))
    assert window.start_run()
    qtbot.waitUntil(lambda: window.timeline.run is not None and (window.timeline.start_ns >= 0).all(), timeout=30_000)
    wait_numbers(qtbot, window)
    first = window.live_numbers.refreshes
    qtbot.wait(2500)  # both tasks run on, none ends
    assert not (window.timeline.end_ns >= 0).any()
    assert window.live_numbers.refreshes >= first + 1  # the strips' and the machine's rows came in
    assert window.metrics.values["makespan"].text() == NONE_ENDED
    assert window.metrics.values["utilization"].text() == NONE_ENDED
    window.stop_run()
    qtbot.waitUntil(lambda: not window.bridge.active, timeout=30_000)
