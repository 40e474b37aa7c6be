"""The progress bar of ``procviz run``: fits the terminal, shows rate and ETA, silent when piped."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import pytest
from rich.console import Console

from procviz.engine.cli_progress import RunProgress, wanted
from procviz.engine.events import RunInfo
from procviz.engine.timeline import Timeline

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
RUN = [sys.executable, "-c", "import sys; from procviz.gui.app import main; sys.exit(main())", "run"]


def visible_lines(raw: str) -> list[str]:
    """What a terminal shows, line by line: escapes removed, each carriage return starting over."""
    text = ANSI.sub("", raw)
    return [seg for line in text.split("\n") for seg in line.split("\r") if seg.strip()]


def timeline_with(n_tasks: int) -> Timeline:
    timeline = Timeline()
    timeline.run = RunInfo(n_tasks=n_tasks, t0_ns=time.monotonic_ns(), config={}, host="h", cpu_count=2,
                           schedstat=True)
    return timeline


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_bar_fits_the_width_and_shows_rate_and_eta(width: int) -> None:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True, color_system=None)
    progress = RunProgress(True, console=console)
    timeline = timeline_with(5000)
    progress.show(timeline)
    time.sleep(0.3)
    progress.close(timeline)
    lines = visible_lines(out.getvalue())
    assert lines, "nothing drawn"
    assert all(len(line) <= width for line in lines), [len(line) for line in lines]
    last = lines[-1]
    assert "0/5000" in last
    assert re.search(r"\d+:\d\d|-:--", last), last  # the ETA, at any width
    if width >= 80:
        assert "tasks/s" in last and "running" in last, last


def test_no_bar_unless_both_streams_are_terminals() -> None:
    piped = io.StringIO()
    assert not wanted(False, piped, piped)
    assert not wanted(True, sys.__stdout__, sys.__stderr__)
    progress = RunProgress(False)
    progress.show(timeline_with(3))
    progress.close(timeline_with(3))  # no rich, no output


def test_piped_run_prints_the_summary_and_no_progress() -> None:
    proc = subprocess.run([*RUN, "--workers", "1", "--kind", "sleep", "--count", "3", "--duration-ms", "20"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "tasks: 3 " in proc.stdout and "\r" not in proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_on_an_80_column_terminal_every_update_stays_on_one_line() -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([*RUN, "--workers", "2", "--kind", "sleep", "--count", "30", "--duration-ms", "60"],
                            stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(timeout=120)
        os.close(controller)
    assert proc.returncode == 0
    raw = b"".join(chunks).decode("utf-8", "replace")
    lines = visible_lines(raw)
    bars = [line for line in lines if "/30" in line]
    assert bars, raw[-2000:]
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "30/30" in bars[-1] and "tasks/s" in bars[-1] and "ETA" in bars[-1]
    assert "tasks: 30 " in raw
