"""The procviz window as a real process: it opens, takes a timeline argument, and Ctrl-C quits it."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
START = "import sys; from gui.app import main; sys.exit(main(['procviz', *sys.argv[1:]]))"


def start_app(tmp_path: pathlib.Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", START, "--settings", str(tmp_path / "s.ini"), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_qt(proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Wait until the child has Qt loaded and its window up (its settings file appears on close only)."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            maps = pathlib.Path(f"/proc/{proc.pid}/maps").read_text()
        except OSError:
            maps = ""
        if "libQt6Widgets" in maps and psutil.Process(proc.pid).num_threads() >= 2:
            time.sleep(1.5)  # let the event loop start
            return
        time.sleep(0.1)
    raise AssertionError("the window did not start")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("extra", [[], ["does-not-exist.json"]], ids=["plain", "bad-timeline-argument"])
def test_ctrl_c_quits_the_window(tmp_path, extra) -> None:
    proc = start_app(tmp_path, *extra)
    try:
        wait_for_qt(proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "QThread" not in err, err[-2000:]
    assert (tmp_path / "s.ini").exists(), "closing saves the window layout"
