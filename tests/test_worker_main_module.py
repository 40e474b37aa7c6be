"""A worker of the ``procviz`` command does not run procviz's launcher again (issue 10).

A spawn or forkserver child runs its parent's main module again before its work. Under the
``procviz`` console script that module imports the window's module (``procviz.gui.app``: argparse,
logging, traceback): every worker paid for it and used none of it. ``engine/main_module.py`` names
the launcher as ``python -m procviz`` does, and multiprocessing skips it. These tests start real
runs through a copy of the console script pip writes, and ask the workers what they imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# What pip writes as the ``procviz`` console script (the entry point in pyproject.toml).
LAUNCHER = '''import sys
from procviz.gui.app import main
if __name__ == "__main__":
    sys.exit(main())
'''

PROBE = '''import os, sys


def probe():
    with open(os.path.abspath(f"seen.{os.getpid()}"), "w") as f:
        f.write(" ".join(name for name in ("procviz.gui.app", "argparse", "logging") if name in sys.modules))
'''


def _worker_imports(folder: Path, start_method: str, *launch: str) -> dict[str, str]:
    (folder / "probe_tasks.py").write_text(PROBE)
    proc = subprocess.run([sys.executable, *launch, "run", "--workers", "2", "--start-method", start_method,
                           "--kind", "function", "--function", "probe_tasks:probe", "--count", "4", "--quiet"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = {path.name: path.read_text() for path in folder.glob("seen.*")}
    assert seen, "no worker ran a task"
    return seen


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_the_console_scripts_workers_do_not_run_the_launcher(tmp_path: Path, start_method: str) -> None:
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    seen = _worker_imports(tmp_path, start_method, "launcher.py")
    assert all(imported == "" for imported in seen.values()), seen


def test_python_m_procviz_workers_do_not_run_it_either(tmp_path: Path) -> None:
    seen = _worker_imports(tmp_path, "spawn", "-m", "procviz")
    assert all(imported == "" for imported in seen.values()), seen


def test_a_named_main_module_is_left_as_it_is(monkeypatch) -> None:
    """Only a main module without a name is named: a harness run as ``-m pkg`` keeps its own."""
    import types

    from procviz.engine.main_module import LAUNCHER as NAME
    from procviz.engine.main_module import skip_main_module_in_workers

    named = types.ModuleType("__main__")
    named.__spec__ = types.SimpleNamespace(name="somepkg.tool")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", named)
    skip_main_module_in_workers()
    assert named.__spec__.name == "somepkg.tool"
    unnamed = types.ModuleType("__main__")
    unnamed.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", unnamed)
    skip_main_module_in_workers()
    assert unnamed.__spec__ is not None and unnamed.__spec__.name == NAME
