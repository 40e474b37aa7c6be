"""The procviz window as a real process: it opens, takes a timeline argument, and Ctrl-C quits it."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# As the installed ``procviz`` command runs it: main() without arguments reads sys.argv, and ends
# the process itself after the window closes.
START = "import sys; sys.argv[0] = 'procviz'; from procviz.gui.app import main; sys.exit(main())"
READY = "window open; Ctrl-C or SIGTERM closes it"  # logged by run_window with -v once Ctrl-C closes it


def start_app(tmp_path: pathlib.Path, *args: str) -> subprocess.Popen:
    # faulthandler: a crash prints the Python stack of every thread, not just "-11"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen([sys.executable, "-c", START, "-v", "--settings", str(tmp_path / "s.ini"), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class StderrReader:
    """Reads a running app's stderr on a thread, so the test can wait for one line and still
    get the whole text once the app ends."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if READY in line:
                self.ready.set()

    def wait_for_window(self, timeout_s: float = 60.0) -> None:
        """Until the app says its window's quit-on-signal handlers are in place (before its event
        loop runs). Before that, a signal ends the starting program with exit code 3 instead (see
        procviz.engine.interrupts)."""
        if not self.ready.wait(timeout_s):
            self.finish(5.0)
            raise AssertionError(f"the window never said it was open (rc {self.proc.returncode}):\n"
                                 f"{self.text[-2000:]}")

    def finish(self, timeout_s: float = 30.0) -> str:
        """Wait for the app to end (killed if it does not); its whole stderr."""
        try:
            self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.thread.join(timeout_s)
        return self.text

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sends POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("extra", [[], ["does-not-exist.json"]], ids=["plain", "bad-timeline-argument"])
def test_a_signal_quits_the_window(tmp_path, extra, sig) -> None:
    proc = start_app(tmp_path, *extra)
    stderr = StderrReader(proc)
    stderr.wait_for_window()
    proc.send_signal(sig)
    err = stderr.finish()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "QThread" not in err, err[-3000:]
    assert (tmp_path / "s.ini").exists(), "closing saves the window layout"
