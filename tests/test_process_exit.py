"""exit_fast: the exit code, flushed output and atexit handlers survive; a live thread is waited for."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import atexit, sys, threading, time
from procviz.engine.process_exit import exit_fast
atexit.register(lambda: print("atexit ran"))
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
print("buffered", end="")
sys.stderr.write("err")
exit_fast(3)
print("never")
"""


def test_exit_fast_keeps_code_output_and_atexit():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "plain"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stdout == "bufferedatexit ran\n" and proc.stderr == "err"


def test_exit_fast_waits_for_a_non_daemon_thread():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "thread"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "thread finished" in proc.stdout and "atexit ran" in proc.stdout and "never" not in proc.stdout
