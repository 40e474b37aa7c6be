"""A spawn worker ends as fork and forkserver workers do: ``os._exit`` once its work and its
finalizers are done, unless the task's code registered an atexit callback (issue 10).

``spawn_main``'s ``sys.exit`` tore the interpreter down module by module, 20-40 ms that every run's
shutdown waited for in the Pool's join. These tests pin both sides with real ``procviz run``
processes: a worker whose tasks registered an atexit callback still runs it, one whose tasks did
not skips the teardown (CPython's audit event of a teardown is not raised),
and the run's result is whole either way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TASKS = '''
import atexit, os, sys

_WATCHED = []


def watch_teardown():
    # CPython raises this audit event as it tears the interpreter down (Py_FinalizeEx), not at os._exit
    if _WATCHED:
        return
    _WATCHED.append(os.path.abspath(f"teardown.{os.getpid()}"))

    def hook(event, args, _open=open, _path=_WATCHED[0]):
        if event == "cpython.PyInterpreterState_Clear":
            _open(_path, "w").close()

    sys.addaudithook(hook)


def register_atexit():
    first = not _WATCHED
    watch_teardown()
    if first:
        atexit.register(lambda: open(f"atexit.{os.getpid()}", "w").close())
'''


def _run(folder: Path, function: str, start_method: str = "spawn") -> subprocess.CompletedProcess[str]:
    (folder / "exit_tasks.py").write_text(TASKS)
    return subprocess.run([sys.executable, "-m", "procviz.engine.cli", "run", "--workers", "2", "--start-method",
                           start_method, "--kind", "function", "--function", f"exit_tasks:{function}", "--count",
                           "6", "--quiet"], cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_spawn_worker_whose_tasks_registered_nothing_skips_the_teardown(tmp_path: Path) -> None:
    proc = _run(tmp_path, "watch_teardown")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "done 6" in proc.stdout
    assert not list(tmp_path.glob("teardown.*"))  # os._exit: no interpreter teardown


def test_a_spawn_worker_whose_tasks_registered_an_atexit_callback_runs_it(tmp_path: Path) -> None:
    proc = _run(tmp_path, "register_atexit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "done 6" in proc.stdout
    ran = {p.name.split(".")[1] for p in tmp_path.glob("atexit.*")}
    torn = {p.name.split(".")[1] for p in tmp_path.glob("teardown.*")}
    assert ran and ran == torn  # each worker that registered one left the usual way, callbacks and all


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_fork_and_forkserver_workers_already_ended_so(tmp_path: Path, start_method: str) -> None:
    # the behaviour spawn workers now share: multiprocessing itself ends these with os._exit
    proc = _run(tmp_path, "watch_teardown", start_method)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list(tmp_path.glob("teardown.*"))
