"""mypy finds no error in procviz.engine and procviz.gui (settings: [tool.mypy] in pyproject.toml).

The repository root is itself the package ``procviz`` (its ``__init__.py`` is at the top), so mypy
run on the folders would name the modules after the checkout's folder, and it cannot follow
setuptools' editable finder. It is given a folder holding one symlink, ``procviz`` -> the
repository root, instead. By hand, from the repository root::

    d=$(mktemp -d) && ln -s "$PWD" "$d/procviz" && MYPYPATH="$d" python -m mypy -p procviz.engine -p procviz.gui
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _package_root() -> pathlib.Path:
    """A folder outside the checkout whose ``procviz`` links to it; the same folder every time for one
    checkout, so mypy's cache (.mypy_cache in the checkout) stays valid between runs."""
    tag = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    folder = pathlib.Path(tempfile.gettempdir()) / f"procviz-mypy-{tag}"
    folder.mkdir(exist_ok=True)
    link = folder / "procviz"
    if not (link.is_symlink() and link.resolve() == ROOT):
        tmp = folder / f"procviz.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(ROOT, target_is_directory=True)
        tmp.replace(link)  # atomic: a parallel run never sees a missing link
    return folder


def test_mypy_finds_no_error() -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is not installed: install the test extras (pip install -e '.[test]')")
    env = {**os.environ, "MYPYPATH": str(_package_root())}
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "-p", "procviz.engine", "-p", "procviz.gui"],
        # a bound against a hang only: a fresh clone (CI) has no mypy cache, and its first check
        # took 217 s at load 15 on 2 cores (30 s with the cache)
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
