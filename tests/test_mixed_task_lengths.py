"""A long task that follows a short one keeps its run-queue wait (found by a campaign in the window).

The worker's short-task loop measures no run-queue wait; a task of at least 0.2 ms that came after
a shorter one ran in it, so in a run alternating short and long tasks every long task said "ready
not measured", and the summary put its time off CPU under "tasks under 0.2 ms". The loop now reads
schedstat once per group of tasks, which pins down such a task's wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ALTERNATING = """
import time

def alt(x):
    if x % 2 == 0:
        return x  # a few microseconds
    started = time.thread_time()
    while time.thread_time() - started < 0.02:  # 20 ms on CPU
        pass
    return x
"""


@pytest.mark.skipif(not os.path.exists("/proc/thread-self/schedstat"), reason="no schedstat: ready is never measured")
def test_every_long_task_of_a_run_alternating_short_and_long_ones_has_its_ready_time(tmp_path) -> None:
    (tmp_path / "alternating.py").write_text(ALTERNATING)
    out = tmp_path / "t.json"
    proc = subprocess.run([sys.executable, "-m", "procviz", "run", "--quiet", "--kind", "function",
                           "--function", "alternating:alt", "--args", json.dumps([[i] for i in range(16)]),
                           "--workers", "2", "--chunksize", "16", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = json.loads(out.read_text())["tasks"]
    start, end, cpu, ready = (np.array(tasks[k], dtype=np.int64) for k in ("start_ns", "end_ns", "cpu_ns", "ready_ns"))
    wall = end - start
    long = wall >= 200_000
    assert long.sum() >= 8  # (the odd ids: 20 ms each)
    assert (ready[long] >= 0).all(), ready[long]  # measured, none left out
    assert (ready[long] + cpu[long] <= wall[long]).all()  # never more than the task's time off CPU
    assert "not split into ready and waiting" not in proc.stdout
