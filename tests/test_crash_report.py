"""A task that crashes procviz's own process (a thread backend runs tasks there) names itself.

A segfaulting task of ``thread_pool_executor`` ended procviz with SIGSEGV and nothing on stderr:
no word of which function. Now the crashing thread's traceback is written first
(engine/crash_report.py); a forked worker's crash stays its own death, reported as WorkerDied,
with no traceback from procviz's side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

RUN = [sys.executable, "-m", "procviz", "run", "--workers", "2", "--kind", "function", "--quiet",
       "--function", "ctypes:string_at", "--args", "[[0]]"]  # string_at(0): reads address 0
# As a user starts procviz: conftest.py turns faulthandler on in every Python a test starts.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}


def test_a_thread_task_that_segfaults_leaves_its_traceback_on_stderr(tmp_path) -> None:
    proc = subprocess.run([*RUN, "--backend", "thread_pool_executor", "--out", str(tmp_path / "t.json")],
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stderr)
    assert "Segmentation fault" in proc.stderr and "in string_at" in proc.stderr, proc.stderr
    assert "in run_task" in proc.stderr  # the task's thread, not another one's


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_a_worker_process_that_segfaults_is_a_dead_worker_without_a_traceback(tmp_path, start_method) -> None:
    proc = subprocess.run([*RUN, "--backend", "pool", "--start-method", start_method,
                           "--out", str(tmp_path / "t.json")], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "WorkerDied" in proc.stdout and "SIGSEGV" in proc.stdout, proc.stdout
    assert "Fatal Python error" not in proc.stderr, proc.stderr
