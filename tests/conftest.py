"""Shared test setup and fixtures.

Qt runs offscreen in every test: the variable is set here, before pytest imports any test module
(and so before anything imports Qt); every Python a test starts runs with faulthandler on. Helpers
shared by several test modules live in plain modules next to the tests (engine_helpers,
gui_helpers, synthetic), never in a test module.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every Python a test starts (the window, the CLI, workers) inherits this: a child that crashes
# (SIGSEGV, SIGABRT, ...) prints its threads' stacks to its stderr, which the failing test shows,
# instead of only an exit code of -11 (pytest does the same for this process).
os.environ.setdefault("PYTHONFAULTHANDLER", "1")

import pytest  # noqa: E402


@pytest.fixture
def synthetic_timeline():
    """A small timeline with every feature a file must carry (see :func:`synthetic.build_timeline`)."""
    from synthetic import build_timeline

    return build_timeline()


@pytest.fixture
def window(qtbot, tmp_path):
    """A shown MainWindow with throwaway settings whose error dialogs are recorded, not shown; a run
    still going at the end of the test is stopped (no worker outlives it)."""
    from gui_helpers import make_window

    w = make_window(qtbot, tmp_path)
    yield w
    if w.running:
        w.bridge.stop_and_wait(5.0)


@pytest.fixture
def run_window(qtbot, tmp_path):
    """A window for live runs at the size issue 12 measures (1280x720); a run left on is stopped."""
    from gui_helpers import make_window

    w = make_window(qtbot, tmp_path)
    w.resize(1280, 720)
    yield w
    if w.running:
        w.bridge.stop_and_wait(5.0)
