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
START = "import sys; from procviz.gui.app import main; sys.exit(main(['procviz', *sys.argv[1:]]))"


def start_app(tmp_path: pathlib.Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([sys.executable, "-c", START, "--settings", str(tmp_path / "s.ini"), *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def caught_signals(pid: int) -> int:
    """The mask of signals the process has a handler for (SigCgt in /proc/<pid>/status)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


def wait_for_quit_handlers(proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Wait until the app has installed its quit-on-signal handlers: SIGTERM is caught, which it is
    not by default (they are installed together, SIGINT first, before the window is shown).

    From then on a signal closes the window, whether or not the event loop is running yet.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if caught_signals(proc.pid) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.05)
    raise AssertionError("the app never installed its signal handlers")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("extra", [[], ["does-not-exist.json"]], ids=["plain", "bad-timeline-argument"])
def test_ctrl_c_quits_the_window(tmp_path, extra) -> None:
    proc = start_app(tmp_path, *extra)
    try:
        wait_for_quit_handlers(proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "QThread" not in err, err[-2000:]
    assert (tmp_path / "s.ini").exists(), "closing saves the window layout"
