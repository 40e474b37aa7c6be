"""The architecture's one-way dependency: engine never imports Qt, nor gui."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_engine_imports_no_qt_and_no_gui() -> None:
    modules = sorted(
        "procviz." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "engine").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6') or m.startswith('procviz.gui'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"engine pulled in: {proc.stdout}"
    assert len(modules) > 10  # the walk really found the engine


def test_no_engine_source_mentions_gui_or_qt_imports() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(PySide6|pyqtgraph|shiboken6|procviz\.gui)\b", re.M)
    offenders = [str(p) for p in (ROOT / "engine").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
