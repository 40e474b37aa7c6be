"""``python -m procviz.engine.cli``: the module entry behaves as the ``procviz`` command does when
Ctrl-C comes while it imports (exit 3, one line, no KeyboardInterrupt traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from procviz.engine.cli import EXIT_STOPPED

# ``python -m procviz.engine.cli ARGS``, with SIGINT sent while the module imports what it needs
# (the moment a finder on sys.meta_path is asked for ``TRIGGER``): runpy runs the module as
# ``__main__`` exactly as ``-m`` does.
INTERRUPTED_MODULE = r"""
import os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (a background job ignores it)
TRIGGER = sys.argv.pop(1)
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == TRIGGER:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["procviz.engine.cli", *sys.argv[1:]]
runpy.run_module("procviz.engine.cli", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("trigger", ["procviz.engine.cli_config", "argparse"])
def test_ctrl_c_while_the_module_entry_imports_exits_3_with_one_line(tmp_path: Path, trigger: str) -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_MODULE, trigger, "run", "--quiet", "--count", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_STOPPED, done.stderr
    assert done.stderr.strip().splitlines() == ["procviz: interrupted by SIGINT"]


def test_the_module_entry_runs_and_exits_with_the_run_code(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "procviz.engine.cli", "run", "--quiet", "--workers", "1",
                           "--count", "2", "--duration-ms", "0"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "outcome: completed" in done.stdout


def test_python_m_procviz_is_not_shadowed_by_a_students_files(tmp_path: Path) -> None:
    """``-m`` puts the current folder first on sys.path: a queue.py there broke procviz's own
    ``import queue``. The user's own modules there are still found by a run."""
    (tmp_path / "queue.py").write_text('raise SystemExit("the standard library was shadowed")\n')
    (tmp_path / "mytasks_pv.py").write_text("def work(x):\n    return 2 * x\n")
    done = subprocess.run([sys.executable, "-m", "procviz", "run", "--quiet", "--workers", "2", "--kind", "function",
                           "--function", "mytasks_pv:work", "--args", "[[1], [2]]"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcome: completed" in done.stdout


def test_python_m_procviz_runs_in_a_folder_that_was_removed(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    script = ("import os, subprocess, sys; os.makedirs(sys.argv[1]); os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
              "sys.exit(subprocess.run([sys.executable, '-m', 'procviz', '--version']).returncode)")
    done = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("procviz ")
