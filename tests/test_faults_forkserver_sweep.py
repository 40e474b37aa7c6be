"""What a task forks under the forkserver start method is the run's, and swept with it.

A fork server's workers, and every process a task forks there (os.fork() keeps the command line),
bear the fork server's command line; once their parent ended they are this process's children
(a subreaper). Spared as "helpers" by that command line, they outlived the run, and held the
fork server and the resource tracker alive past procviz's exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TASKS = textwrap.dedent("""
    import os, time

    def forker(x, out):
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                time.sleep(120)
                os._exit(0)
            with open(out, "a") as f:
                f.write(f"{pid}\\n")
        return x
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.parametrize("backend", ["pool", "process_pool_executor", "process"])
def test_what_a_forkserver_task_forks_is_swept_at_the_runs_end(tmp_path: Path, backend: str) -> None:
    (tmp_path / "forking_tasks.py").write_text(TASKS)
    out = tmp_path / "pids.txt"
    args = f'[[1, "{out}"], [2, "{out}"]]'
    proc = subprocess.run([sys.executable, "-m", "procviz", "run", "--backend", backend, "--start-method",
                           "forkserver", "--kind", "function", "--function", "forking_tasks:forker", "--args", args,
                           "--workers", "2", "--quiet"], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    pids = [int(line) for line in out.read_text().split()]
    assert len(pids) == 6
    assert "swept 6 leftover processes" in proc.stdout, proc.stdout
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # (not to leave them on a failure)
        os.kill(p, 9)
    assert not left
