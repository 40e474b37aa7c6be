"""The procviz command: headless subcommands never import Qt; the window entry parses its options."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
QT_ROOTS = ("PySide6", "pyqtgraph", "shiboken6")

PROBE = """
import sys
from procviz.gui.app import main
code = main(["procviz", *{argv!r}])
qt = sorted(m for m in sys.modules if m.split(".")[0] in {qt!r})
print("EXIT", code)
print("QT", ",".join(qt))
"""


def run_probe(argv: list[str], timeout: float = 120) -> tuple[int, set[str], str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, qt=QT_ROOTS)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("EXIT ", "QT ")))
    qt = {m for m in lines.get("QT", "").strip().split(",") if m}
    return int(lines["EXIT"]), qt, proc.stdout + proc.stderr


def test_procviz_run_imports_no_qt(tmp_path) -> None:
    code, qt, out = run_probe(["run", "--workers", "1", "--kind", "sleep", "--count", "3",
                               "--duration-ms", "10", "--quiet"])
    assert code == 0, out
    assert "tasks: 3" in out
    assert qt == set(), f"headless run imported {qt}"


def test_procviz_run_invalid_config_imports_no_qt() -> None:
    code, qt, out = run_probe(["run", "--workers", "0", "--quiet"])
    assert code == 2, out
    assert "workers" in out
    assert qt == set()


def test_procviz_export_imports_no_qt_for_data_formats(tmp_path) -> None:
    timeline = tmp_path / "t.json"
    code, qt, out = run_probe(["run", "--workers", "1", "--kind", "sleep", "--count", "2",
                               "--duration-ms", "5", "--quiet", "--out", str(timeline)])
    assert code == 0, out
    assert json.loads(timeline.read_text())["format"] == "procviz-timeline"
    code, qt, out = run_probe(["export", str(timeline), "--out", str(tmp_path / "t.csv")])
    assert code == 0, out
    assert (tmp_path / "t.csv").read_text().count("\n") >= 3
    assert qt == set(), f"headless export imported {qt}"
    code, qt, out = run_probe(["export", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x.csv")])
    assert code == 2 and qt == set(), out


def test_window_options_parse_without_opening_a_window() -> None:
    from procviz.gui.app import parse_window_args

    options = parse_window_args(["some.json", "--theme", "dark"])
    assert options.timeline == pathlib.Path("some.json")
    assert options.theme == "dark"
    assert parse_window_args([]).timeline is None


def test_gui_app_module_itself_imports_no_qt() -> None:
    code = f"import sys, procviz.gui.app; print(','.join(m for m in sys.modules if m.split('.')[0] in {QT_ROOTS!r}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_procviz_export_png_draws_the_chart_without_a_display(tmp_path) -> None:
    from synthetic import finished_run

    from procviz.engine.formats import write_timeline

    timeline = tmp_path / "t.json"
    write_timeline(finished_run(200), timeline)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    # as the installed command runs it (main() reads sys.argv and ends the process itself)
    code = ("import sys; from procviz.gui.app import main; "
            f"sys.argv[:] = ['procviz', 'export', {str(timeline)!r}, '--out', {str(tmp_path / 't.png')!r}]; "
            "sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
