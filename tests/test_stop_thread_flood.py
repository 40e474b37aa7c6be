"""Stop of a thread-pool run whose threads flood the event socket ends (issue 10's fault campaign).

At Stop the engine takes in the last STARTs still in its own process's recorder (the thread
tasks record there), so that a task begun moments before is named as hung if it is. The engine
thread is the event socket's only reader, and no-op thread tasks keep it full: a send made on
that thread, or one waited for under the recorder's lock, waited for ever (a review reproduced
it with 6 threads every time). The run goes in a child process, so a hang fails this test by its
timeout instead of holding pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TASKS = '''
import os

_count = [0]


def noop():
    _count[0] += 1  # (racy across threads: only roughly counted)
    if _count[0] == 1000:
        open(os.environ["FLOOD_FLAG"], "w").close()
'''

DRIVER = '''
import os, sys, time
from procviz.engine.config import parse_config
from procviz.engine.runner import Engine

engine = Engine()
engine.start(parse_config({"backend": "thread_pool_executor", "workers": 6,
                           "workload": {"kind": "function", "function": "flood_tasks:noop", "count": 1000000}}))
deadline = time.monotonic() + 60
while not os.path.exists(os.environ["FLOOD_FLAG"]) and time.monotonic() < deadline:
    time.sleep(0.01)  # (a poll for the flag: the tasks are flooding the socket once it exists)
engine.stop(10)
result = engine.join(60)
print("outcome", None if result is None else result.outcome.value, flush=True)
os._exit(0 if result is not None else 1)
'''


def test_stop_ends_a_thread_pool_run_that_floods_the_event_socket(tmp_path: Path) -> None:
    (tmp_path / "flood_tasks.py").write_text(TASKS)
    (tmp_path / "driver.py").write_text(DRIVER)
    flag = tmp_path / "flooding"
    env_path = {"FLOOD_FLAG": str(flag), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "driver.py"], cwd=tmp_path, env={**os.environ, **env_path},
                          capture_output=True, text=True, timeout=150)
    assert flag.exists(), "the tasks never ran: " + proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "outcome stopped" in proc.stdout, proc.stdout + proc.stderr
