"""End to end with real worker processes: forms -> Run -> chart, metrics, table; Stop; close; files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from gui_helpers import (  # noqa: E402
    children,
    make_window,
    open_and_wait,
    run_and_wait,
    wait_gone,
    wait_numbers,
    worker_lane_pids,
)
from PySide6.QtCore import Qt  # noqa: E402

from procviz.engine.events import TaskState  # noqa: E402
from procviz.engine.metrics import compute_metrics  # noqa: E402
from procviz.gui.panels.metrics_panel import summary_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def retype(qtbot, edit, text: str) -> None:
    edit.selectAll()
    edit.clear()
    qtbot.keyClicks(edit, text)


def choose(box, value: str) -> None:
    box.setCurrentIndex(box.findData(value))
    assert box.currentData() == value


def fill_sleep_run(qtbot, window, workers: int, count: int, ms: int) -> None:
    pool, work = window.form.pool, window.form.workload
    choose(pool.backend, "pool")
    retype(qtbot, pool.workers, str(workers))
    choose(pool.start_method, "spawn")
    choose(pool.api, "map")
    pool.chunksize.clear()
    choose(work.kind, "sleep")
    retype(qtbot, work.count, str(count))
    retype(qtbot, work.duration_ms, str(ms))
    assert window.form.is_valid(), window.form.problems
    assert window.actions_.run.isEnabled()


def fill_function_run(qtbot, window, function: str, args_json: str) -> None:
    """The forms set to call ``function`` once per argument list of ``args_json``."""
    work = window.form.workload
    choose(work.kind, "function")
    retype(qtbot, work.function, function)
    work.args.setPlainText(args_json)
    assert window.form.is_valid(), window.form.problems


def test_invalid_form_disables_run_and_nothing_starts(qtbot, window) -> None:
    before = children()
    retype(qtbot, window.form.pool.workers, "0")
    assert not window.actions_.run.isEnabled()
    assert not window.setup.run_button.isEnabled()
    assert "from 1 to" in window.form.problem_text("workers")
    assert window.setup.blockers.isVisible() and "Workers" in window.setup.blockers.text()
    qtbot.mouseClick(window.setup.run_button, Qt.MouseButton.LeftButton)
    window.actions_.run.trigger()
    assert window.start_run() is False
    assert not window.running and not window.bridge.engine.running
    time.sleep(0.3)
    assert children() - before == set()
    assert window.timeline.run is None


def test_run_from_the_forms_gives_a_lane_per_worker_and_a_bar_per_task(qtbot, window) -> None:
    fill_sleep_run(qtbot, window, workers=2, count=8, ms=50)
    seen_children: set[int] = set()
    window.bridge.ticked.connect(lambda: seen_children.update(children()))
    with qtbot.waitSignal(window.bridge.runFinished, timeout=90_000) as blocker:
        qtbot.mouseClick(window.setup.run_button, Qt.MouseButton.LeftButton)
        assert window.running
    result = blocker.args[0]
    assert result.outcome == "completed", result.message
    tl = window.gantt.timeline if hasattr(window.gantt, "timeline") else window.timeline
    assert tl is window.timeline
    pids = worker_lane_pids(tl)
    assert len(pids) == 2
    assert pids <= seen_children, "lane PIDs must be real child processes of this GUI process"
    assert pids == worker_lane_pids(result.timeline)
    # One bar per task: every task started and ended on a worker lane.
    assert tl.n_tasks == 8
    assert np.all(tl.state == TaskState.DONE)
    assert np.all(tl.start_ns >= 0) and np.all(tl.end_ns > tl.start_ns)
    worker_lanes = {lane.index for lane in tl.lanes if lane.pid in pids}
    assert set(tl.lane.tolist()) <= worker_lanes
    np.testing.assert_array_equal(tl.start_ns, result.timeline.start_ns)
    np.testing.assert_array_equal(tl.end_ns, result.timeline.end_ns)
    # The metrics panel shows exactly the engine's RunResult metrics (once the worker computed them).
    wait_numbers(qtbot, window)
    assert window.metrics.metrics == result.metrics
    for key, text in summary_texts(result.metrics).items():
        assert window.metrics.text(key) == text, key
    assert compute_metrics(tl) == result.metrics
    assert window.progress.bar.value() == 8
    assert window.tasks.model.rowCount() == 8
    assert window.actions_.run.isEnabled() and not window.actions_.stop.isEnabled()
    assert window.errors == []
    assert wait_gone(pids) == set()


def test_stop_mid_run_cancels_and_leaves_no_process(qtbot, window) -> None:
    fill_sleep_run(qtbot, window, workers=2, count=40, ms=400)
    with qtbot.waitSignal(window.bridge.runFinished, timeout=60_000) as blocker:
        window.actions_.run.trigger()
        # two tasks done and both workers up (a loaded machine can boot the second worker after
        # the first has done two tasks)
        qtbot.waitUntil(lambda: np.count_nonzero(window.timeline.state == TaskState.DONE) >= 2
                        and len(worker_lane_pids(window.timeline)) == 2, timeout=60_000)
        pids = children()
        assert worker_lane_pids(window.timeline) <= pids
        t_stop = time.monotonic()
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    result = blocker.args[0]
    assert result.outcome == "stopped"
    assert wait_gone(pids, 5.0 - (time.monotonic() - t_stop) + 0.5) == set()
    states = window.timeline.state
    assert np.count_nonzero(states == TaskState.CANCELLED) > 0
    assert np.all(states >= TaskState.DONE), "every unfinished task is shown as cancelled"
    assert window.errors == []
    # The ready queue let go of the tasks the Stop cancelled before they started.
    queue = window.gantt.plot.queue
    qtbot.waitUntil(lambda: len(queue.steps.y) > 0 and queue.steps.y[-1] == 0, timeout=10_000)
    unstarted = (window.timeline.start_ns < 0) & (states == TaskState.CANCELLED)
    assert unstarted.any()
    cancelled_at = window.timeline.end_ns[unstarted]
    assert (cancelled_at > 0).all() and len(set(cancelled_at.tolist())) == 1  # all at the Stop, when it came
    zero_at = queue.steps.x[np.flatnonzero(queue.steps.y == 0)[-1]]
    assert zero_at * 1e9 <= cancelled_at[0] - window.timeline.t0_ns + 1  # at the Stop, not at the run's end


def test_close_window_mid_run_stops_the_run_first(qtbot, tmp_path) -> None:
    window = make_window(qtbot, tmp_path)
    fill_sleep_run(qtbot, window, workers=2, count=40, ms=400)
    window.start_run()
    qtbot.waitUntil(lambda: len(worker_lane_pids(window.timeline)) == 2, timeout=60_000)
    pids = children()
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 30.0  # not hung (closeEvent waits at most 5 s); load 10+ is slow
    assert not window.running and not window.bridge.engine.running
    assert wait_gone(pids, 5.0) == set()
    assert np.all(window.timeline.state >= TaskState.DONE)


CLOSE_SCRIPT = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import psutil
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from procviz.gui.app import install_quit_on_signals
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    def main():
        app = QApplication([])
        w = MainWindow(settings=make_settings(sys.argv[1]))
        w.show_error = lambda t, m: print("ERROR", t, m)
        w.form.set_value({"workers": 2, "workload": {"kind": "sleep", "count": 40, "duration_ms": 400}})
        stopped = []
        install_quit_on_signals(w, stopped)
        pids = set()
        def poll():
            kids = {p.pid for p in psutil.Process().children(recursive=True)}
            pids.update(kids)
            if len([l for l in w.timeline.lanes if l.kind == "process"]) == 2 and w.running:
                {how}
        w.show()
        w.start_run()
        t = QTimer(); t.timeout.connect(poll); t.start(50)
        QTimer.singleShot(60000, app.quit)
        app.exec()
        print("PIDS", " ".join(map(str, sorted(pids))), flush=True)
        print("RUNNING", w.running)
        print("STOPPED", stopped, flush=True)
        print("STATES", sorted(set(w.timeline.state.tolist())), flush=True)
        # then end as the procviz command does (gui/app.py: run_window, main): the interpreter's
        # teardown of Qt objects is a known crash at exit (-11 here once at load 6, faulthandler
        # showing the main thread in Qt's teardown, the numbers and spawner threads alive; once
        # more in PySide's own atexit shutdown, which end_window_process now skips)
        w.live_numbers.worker.close(wait_s=2.0)
        from procviz.gui.app import end_window_process
        end_window_process(0)

    if __name__ == "__main__":
        main()
""")


@pytest.mark.parametrize("how", ["w.close()", "os.kill(os.getpid(), __import__('signal').SIGINT)"],
                         ids=["close", "ctrl-c"])
def test_close_or_ctrl_c_in_a_real_app_exits_cleanly(tmp_path, how) -> None:
    script = tmp_path / "close_app.py"
    script.write_text(CLOSE_SCRIPT.replace("{how}", how))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "s.ini")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "QThread" not in out and "Traceback" not in out, out[-3000:]
    assert "RUNNING False" in proc.stdout, out[-3000:]
    # a signal that stopped a run is said, for the program's exit code (3, as `procviz run`'s)
    assert f"STOPPED {[True] if 'SIGINT' in how else []}" in proc.stdout, out[-3000:]
    pid_line = next(line for line in proc.stdout.splitlines() if line.startswith("PIDS"))
    pids = {int(p) for p in pid_line.split()[1:]}
    assert len(pids) >= 2, out
    assert wait_gone(pids, 5.0) == set()
    states_line = next(line for line in proc.stdout.splitlines() if line.startswith("STATES"))
    assert all(int(s) >= TaskState.DONE for s in states_line.split("[", 1)[1].rstrip("]").split(","))


def test_saved_timeline_reopens_with_the_same_lanes_and_bars(qtbot, window, tmp_path) -> None:
    fill_sleep_run(qtbot, window, workers=2, count=12, ms=30)
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed"
    path = tmp_path / "run.json"
    assert window.save_file(path), window.errors
    live = window.timeline
    live_lanes = [(lane.pid, lane.name) for lane in live.lanes]
    live_bars = {name: getattr(live, name).copy() for name in ("start_ns", "end_ns", "lane", "state")}

    other = make_window(qtbot, tmp_path / "other")
    assert open_and_wait(qtbot, other, path), other.errors
    tl = other.timeline
    assert [(lane.pid, lane.name) for lane in tl.lanes] == live_lanes
    for name, column in live_bars.items():
        np.testing.assert_array_equal(getattr(tl, name), column, err_msg=name)
    assert other.metrics.metrics == compute_metrics(live)
    assert str(path.resolve()) in other.settings.value("recent_files")
    assert other.form.config() == window.form.config()


def test_bad_file_shows_the_reason_and_keeps_the_timeline(qtbot, window, tmp_path) -> None:
    fill_sleep_run(qtbot, window, workers=1, count=3, ms=10)
    run_and_wait(qtbot, window)
    before = window.timeline.end_ns.copy()
    version_lanes = list(window.timeline.lanes)
    bad_files = (("garbage.json", "{this is not json"), ("other.json", '{"format": "something-else"}'),
                 ("empty.csv", ""))
    for name, content in bad_files:
        bad = tmp_path / name
        bad.write_text(content)
        assert window.open_file(bad) is False
        title, reason = window.errors[-1]
        assert name in reason, reason
        np.testing.assert_array_equal(window.timeline.end_ns, before)
        assert window.timeline.lanes == version_lanes
    assert window.open_file(tmp_path / "does-not-exist.json") is False
    assert "does-not-exist" in window.errors[-1][1]


def test_failed_run_shows_a_dialog_and_the_previous_timeline_stays(qtbot, window) -> None:
    fill_sleep_run(qtbot, window, workers=1, count=3, ms=10)
    run_and_wait(qtbot, window)
    before = window.timeline.end_ns.copy()
    title = window.windowTitle()
    fill_function_run(qtbot, window, "procviz.engine.worker.demo_tasks:no_such_function", "[[1], [2]]")
    result = run_and_wait(qtbot, window)
    assert result.outcome == "invalid"
    assert window.errors and "no_such_function" in window.errors[-1][1]
    np.testing.assert_array_equal(window.timeline.end_ns, before)
    assert window.timeline.n_tasks == 3
    # Nothing ran: the title is the previous run's again, and the form is shown, to be mended.
    assert window.windowTitle() == title
    assert not window.setup_dock.visibleRegion().isEmpty() and window.metrics_dock.visibleRegion().isEmpty()


def test_last_config_is_remembered(qtbot, window, tmp_path) -> None:
    fill_sleep_run(qtbot, window, workers=1, count=2, ms=5)
    run_and_wait(qtbot, window)
    config = window.form.config()
    window.close()
    again = make_window(qtbot, tmp_path)
    assert again.form.config() == config


def test_clicking_a_bar_selects_the_task_row(qtbot, window) -> None:
    fill_sleep_run(qtbot, window, workers=2, count=6, ms=10)
    run_and_wait(qtbot, window)
    window.gantt.taskClicked.emit(4)
    assert window.tasks.selected_task() == 4


@pytest.mark.parametrize("prefix", ["scenario_lock", "backend_4"], ids=["lock-scenario", "thread-pool"])
def test_shipped_scenario_and_backend_presets_run_in_the_window(qtbot, window, prefix) -> None:
    matches = [p for p in window.setup.presets if p.path.name.startswith(prefix)]
    if not matches:
        pytest.skip(f"no preset {prefix}* shipped")
    window.setup.apply_preset(matches[0])
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed", result.message
    tl = window.timeline
    assert np.all(tl.state == TaskState.DONE)
    assert window.metrics.metrics == result.metrics
    assert window.tasks.model.rowCount() == tl.n_tasks
    assert window.errors == []


def test_the_outcome_is_said_with_the_runs_final_numbers_not_ahead_of_them(qtbot, window, monkeypatch) -> None:
    """"Run completed" in the status bar while the progress line still counted an earlier moment
    (126,976 of 200,000) read as a run that lost tasks. The figures are made slow here, so the
    last ones are still being computed when the run ends."""
    import procviz.gui.numbers_worker as numbers_worker

    compute = numbers_worker.compute_metrics

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return compute(*args, **kwargs)

    monkeypatch.setattr(numbers_worker, "compute_metrics", slow)
    said: list[tuple[str, dict]] = []
    window.statusBar().messageChanged.connect(
        lambda text: said.append((text, dict(window.progress.counts))) if text.startswith("Run ") else None)
    fill_sleep_run(qtbot, window, workers=2, count=6, ms=20)
    with qtbot.waitSignal(window.bridge.runFinished, timeout=120_000):
        assert window.start_run()
    assert not window.live_numbers.settled, "the final numbers are still out (the test's premise)"
    assert said == [] and window.phase_label.text() == "finishing…"
    wait_numbers(qtbot, window)
    qtbot.waitUntil(lambda: said != [], timeout=10_000)
    text, counts = said[0]
    assert text.startswith("Run completed")
    assert counts.get(TaskState.DONE) == 6, f"said {text!r} beside counts {counts}"
    assert window.phase_label.text() == "completed"


def test_figures_that_cannot_be_computed_are_said_and_the_outcome_still_comes(qtbot, window, monkeypatch) -> None:
    """A figure that raised left the panels at an earlier moment and the status bar at
    "finishing…" for good: the outcome waited for numbers that were never shown."""
    import procviz.gui.numbers_worker as numbers_worker

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a figure's bug")

    monkeypatch.setattr(numbers_worker, "compute_metrics", broken)
    fill_sleep_run(qtbot, window, workers=2, count=4, ms=10)
    with qtbot.waitSignal(window.bridge.runFinished, timeout=120_000):
        assert window.start_run()
    qtbot.waitUntil(lambda: window.live_numbers.settled, timeout=10_000)
    assert window.phase_label.text() == "completed"
    assert window.statusBar().currentMessage().startswith("Run completed")
    assert "figures not computed (ZeroDivisionError: a figure's bug)" in window.metrics.values["tasks"].text()
    assert window.progress.counts.get(TaskState.DONE) == 4, "the counts are of the run's end"
    assert window.tasks.model.rowCount() == 4


def test_a_new_run_clears_the_last_runs_outcome_from_the_status_bar(qtbot, window) -> None:
    fill_sleep_run(qtbot, window, workers=2, count=4, ms=10)
    run_and_wait(qtbot, window)
    assert window.statusBar().currentMessage().startswith("Run "), "the outcome is shown"
    with qtbot.waitSignal(window.bridge.runFinished, timeout=120_000):
        assert window.start_run()
        assert window.statusBar().currentMessage() == "", "no stale outcome while the next run runs"
    wait_numbers(qtbot, window)


def test_why_tasks_failed_stays_beside_the_outcome(qtbot, window) -> None:
    """"Run failed: 2 of 4 tasks failed" went with the next hover over the chart, and the reason was
    only in tooltips and the table's last column."""
    choose(window.form.pool.backend, "pool")
    retype(qtbot, window.form.pool.workers, "2")
    fill_function_run(qtbot, window, "math:factorial", '[[5], [-1], ["x"], [3]]')
    result = run_and_wait(qtbot, window)
    assert result.outcome == "failed"
    qtbot.waitUntil(lambda: window.phase_label.text().startswith("failed"), timeout=10_000)
    label = window.phase_label.text()
    assert "ValueError ×1" in label and "TypeError ×1" in label, label
    assert "factorial() not defined for negative values" in window.phase_label.toolTip()
    assert "TypeError" in window.phase_label.toolTip()
    assert window.statusBar().currentMessage().startswith("Run failed: 2 of 4 tasks failed")
    assert "1 task: " in window.statusBar().currentMessage()
    fill_sleep_run(qtbot, window, workers=1, count=2, ms=1)
    assert window.start_run()
    assert window.phase_label.toolTip() == ""  # (not the last run's reasons)
    qtbot.waitUntil(lambda: not window.running, timeout=90_000)
