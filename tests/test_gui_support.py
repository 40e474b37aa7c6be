"""Shared helpers for the GUI tests (no tests here): windows with throwaway settings, runs, PIDs."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil  # noqa: E402
import pytest  # noqa: E402
from engine_helpers import alive_pids, wait_gone  # noqa: E402, F401 - wait_gone is re-exported

RUN_TIMEOUT_MS = 90_000


def settings_file(tmp_path: Path) -> Path:
    """An INI file for QSettings inside the test's temporary folder."""
    return tmp_path / "procviz-test-settings.ini"


def make_window(qtbot, tmp_path: Path, engine=None):
    """A shown MainWindow with throwaway settings whose error dialogs are recorded, not shown."""
    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    window = MainWindow(settings=make_settings(settings_file(tmp_path)), engine=engine)
    qtbot.addWidget(window)
    window.errors = []
    window.show_error = lambda title, text: window.errors.append((title, text))
    window.resize(1400, 900)
    window.show()
    return window


def run_and_wait(qtbot, window, timeout_ms: int = RUN_TIMEOUT_MS):
    """Press Run and wait for the run's result (the RunResult the bridge emitted)."""
    with qtbot.waitSignal(window.bridge.runFinished, timeout=timeout_ms) as blocker:
        assert window.start_run(), f"run did not start: {window.form.problems}"
    return blocker.args[0]


# multiprocessing's own long-lived helpers: one per parent process, shared by every run and meant
# to outlive them (they end with the parent), so they are not processes "of a run".
SHARED_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def children() -> set[int]:
    """PIDs of this process's live descendants, without multiprocessing's shared helpers."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(helper in " ".join(child.cmdline()) for helper in SHARED_HELPERS):
                continue
            out.add(child.pid)
        except psutil.Error:
            pass
    return out


alive = alive_pids  # one implementation, shared with the engine tests


def worker_lane_pids(timeline) -> set[int]:
    """PIDs of the worker lanes (not the parent's callback lane)."""
    return {lane.pid for lane in timeline.lanes if lane.kind != "parent" and lane.pid != os.getpid()}


@pytest.fixture
def run_window(qtbot, tmp_path):
    """A window for live runs at the size the issue measures (1280x720); a run left on is stopped."""
    window = make_window(qtbot, tmp_path)
    window.resize(1280, 720)
    yield window
    if window.running:
        window.bridge.stop_and_wait(5.0)
