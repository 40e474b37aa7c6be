"""The architecture's layers hold: import-linter's contracts (pyproject.toml) pass, they cover every
engine module, and importing the whole engine pulls in no Qt."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _engine_modules() -> list[str]:
    return sorted(
        "procviz." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "engine").rglob("*.py")
    )


def test_import_linter_contracts_are_kept() -> None:
    proc = subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert "Could not find package" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_every_engine_module_sits_in_a_layer() -> None:
    """A new module or subpackage cannot escape the layers by not being listed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    listed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    unlisted = [m for m in _engine_modules()
                if m != "procviz.engine" and not any(m == n or m.startswith(n + ".") for n in listed)]
    assert unlisted == []


def test_importing_every_engine_module_pulls_in_no_qt() -> None:
    modules = _engine_modules()
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
