"""A SIGKILLed window leaves no process of its run behind.

The window runs in a child process (offscreen), exactly as ``procviz`` starts it, with a settings
file holding the run's config; a small driver presses Run once the window is shown (no hook in
the window). Once the workers and each task's ``sleep 60`` (Popen) exist, the window is SIGKILLed:
3 s later no process of the run may be alive, by the run's tag (``/proc/*/environ``) and by the
PIDs seen before the kill. Without the guardian the orphaned ``sleep`` processes would live on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import MODULE, fault_setup, start_time, survivors, tagged

from procviz.engine import guardian_proc

# Runs in the child: the real window (procviz.gui.app.main), with Run pressed once it is shown.
DRIVER = r"""
import json, sys
from PySide6.QtCore import QTimer
from procviz.gui import app, main_window
from procviz.gui.settings import make_settings, write_json

ini, config = sys.argv[1], json.loads(sys.argv[2])
settings = make_settings(ini)
write_json(settings, "last_config", config)
settings.sync()
del settings
show = main_window.MainWindow.show

def show_and_run(self):
    show(self)
    QTimer.singleShot(0, lambda: print("run started" if self.start_run() else "run refused", flush=True))

main_window.MainWindow.show = show_and_run
sys.exit(app.main(["procviz", "--settings", ini]))
"""


@pytest.fixture
def faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fault module in place and a fresh run tag (see fault_helpers)."""
    return fault_setup(tmp_path, monkeypatch)


def _outliving(seen: dict[int, int | None], killed_at: float) -> list[str]:
    """The processes of ``seen`` (PID: start time) still alive 3 s after the kill; shared helpers
    (the window's resource tracker, spared by the guardian so that it can clean up, then ending by
    itself) get 10 s. Those found are killed (the test fails, and leaves nothing behind)."""
    while True:
        alive = [pid for pid, start in seen.items() if start is not None and start_time(pid) == start]
        late = time.monotonic() - killed_at
        overdue = [pid for pid in alive if late > (10.0 if guardian_proc.is_helper(pid) else 3.0)]
        if overdue or not alive:
            for pid in overdue:
                os.kill(pid, signal.SIGKILL)
            return [f"pid {pid} {guardian_proc.stat_of(pid)}" for pid in overdue]
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ("pool", "process", "thread_pool_executor"))
def test_sigkilled_window_leaves_no_process_of_its_run(faults: str, tmp_path: Path, backend: str) -> None:
    config = {"backend": backend, "workers": 2,
              "workload": {"kind": "function", "function": f"{MODULE}:popen_nap", "args": [[30]] * 6}}
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    window = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path / "settings.ini"), json.dumps(config)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: dict[int, int | None] = {}
    try:
        deadline = time.monotonic() + 90  # Qt's start and the import check on a loaded machine
        while sum(name == "sleep" for name in tagged(faults).values()) < 2:
            assert window.poll() is None, window.communicate()
            assert time.monotonic() < deadline, "the run's tasks did not start their children"
            time.sleep(0.1)
        time.sleep(1.5)  # a tree scan of procviz's since they started
        seen = {pid: start_time(pid) for pid in tagged(faults) if pid != window.pid}
    finally:
        window.kill()  # SIGKILL: nothing of the window runs any more
        window.wait()
        killed_at = time.monotonic()
    try:
        left = survivors(faults, timeout_s=3.0)
        assert left == [] and _outliving(seen, killed_at) == []
    finally:
        for f in (window.stdout, window.stderr):
            if f is not None:
                f.close()
