"""procviz as a user gets it: a wheel installed into a fresh environment outside the repository.

The wheel is built from a copy of the working tree (so the build never writes into the
repository), installed with ``--no-deps --no-index`` into a new virtual environment that sees the
system site-packages (PySide6, numpy, ... are not downloaded again), and driven from an empty
folder elsewhere, so nothing of the checkout can leak onto ``sys.path``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("engine", "gui", "resources")
NOT_SHIPPED_PREFIX = "screenshot"  # README pictures, not part of the app
COPY_IGNORE = shutil.ignore_patterns(".venv", "venv", ".git", "__pycache__", "build", "dist", "*.egg-info",
                                     ".pytest_cache", ".ruff_cache", ".mypy_cache", "out")

PROBE = """
import importlib.util, json, sys
import procviz
from procviz import resources
from procviz.engine.presets import load_presets, presets_dir
presets, problems = load_presets()
print(json.dumps({
    "file": procviz.__file__,
    "version": procviz.__version__,
    "presets": sorted(p.key for p in presets),
    "problems": problems,
    "generic": [m for m in ("engine", "gui", "resources") if importlib.util.find_spec(m) is not None],
    "icon_png": resources.read_bytes(resources.ICON_PNG)[:8].hex(),
    "icon_svg": b"<svg" in resources.read_bytes(resources.ICON_SVG),
    "desktop": resources.read_bytes(resources.DESKTOP_ENTRY).decode(),
    "license": resources.read_bytes(resources.LICENSE).decode(),
}))
"""


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def package_folders() -> set[str]:
    """``procviz.<dotted path>`` of every folder under engine/, gui/, resources/ that holds an __init__.py."""
    found = {"procviz"}
    for top in SOURCE_FOLDERS:
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add("procviz." + ".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_the_package_list_matches_the_folders() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    folders = package_folders()
    assert not folders - listed, f"folders left out of the wheel (add them to pyproject's packages): {folders - listed}"
    assert not listed - folders, f"packages listed in pyproject without a folder: {listed - folders}"


def shipped_resource_files() -> set[str]:
    """Wheel paths of every data file under resources/ (the Python files are checked by the package list)."""
    out = set()
    for path in (ROOT / "resources").rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".pyc") and not path.name.startswith(NOT_SHIPPED_PREFIX):
            out.add("procviz/resources/" + path.relative_to(ROOT / "resources").as_posix())
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(work / "dist"), str(src)]
    # Offline with this environment's setuptools when it has one; else (a Python 3.12+ venv has
    # no setuptools) the way a user's pip builds: in isolation, with setuptools from the index.
    proc = subprocess.run([*build, "--no-build-isolation", "--no-index"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        proc = subprocess.run(build, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (built,) = (work / "dist").glob("procviz-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[pathlib.Path, dict[str, str]]:
    """A fresh venv (outside the repository) holding the wheel; returns its bin folder and an env.

    The venv sees this test environment's site-packages through a .pth file (so PySide6, numpy,
    ... are not installed again), as plain paths: their own .pth files, such as the editable
    install's finder that maps ``procviz`` to the checkout, are not run there.
    """
    venv = tmp_path_factory.mktemp("venv") / "env"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (purelib,) = venv.glob("lib/python*/site-packages")
    deps = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
    (purelib / "_procviz_test_deps.pth").write_text("\n".join(deps) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--ignore-installed", str(wheel)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv / "bin", env


def run_there(installed, cwd: pathlib.Path, *cmd: str, timeout: float = 180) -> subprocess.CompletedProcess:
    bin_dir, env = installed
    exe = str(bin_dir / cmd[0])
    return subprocess.run([exe, *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_the_resources_and_the_licence(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = shipped_resource_files() - names
    assert not missing, f"resources not in the wheel (pyproject package-data): {sorted(missing)}"
    assert any(".dist-info/" in n and n.endswith("LICENSE") for n in names), "LICENSE not in the dist-info"
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"procviz"}, f"the wheel installs more than one top-level name: {tops}"


def test_the_installed_wheel_works_from_another_folder(installed, tmp_path) -> None:
    version = run_there(installed, tmp_path, "procviz", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("procviz ") and "unknown" not in version.stdout

    probe = run_there(installed, tmp_path, "python", "-c", PROBE)
    assert probe.returncode == 0, probe.stderr[-3000:]
    facts = json.loads(probe.stdout)
    venv = installed[0].parent
    assert pathlib.Path(facts["file"]).is_relative_to(venv), f"procviz imported from {facts['file']}, not the wheel"
    assert facts["generic"] == [], f"top-level names importable: {facts['generic']}"
    shipped = sorted(p.stem for p in (ROOT / "resources" / "presets").glob("*.json"))
    assert facts["presets"] == shipped and facts["problems"] == []
    assert facts["icon_png"] == b"\x89PNG\r\n\x1a\n".hex() and facts["icon_svg"]
    assert "Exec=procviz" in facts["desktop"] and "Icon=procviz" in facts["desktop"]
    assert facts["license"] == (ROOT / "LICENSE").read_text()

    listing = run_there(installed, tmp_path, "procviz", "presets")
    assert listing.returncode == 0, listing.stderr
    assert all(key in listing.stdout for key in shipped)

    out = tmp_path / "x.json"
    run = run_there(installed, tmp_path, "procviz", "run", "--preset", "scenario_value_array", "--out", "x.json")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert json.loads(out.read_text())["format"] == "procviz-timeline"


def test_the_licence_copies_agree() -> None:
    assert (ROOT / "resources" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_the_desktop_entry_names_the_command_and_the_icon() -> None:
    lines = (ROOT / "resources" / "procviz.desktop").read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert entry["Type"] == "Application" and entry["Exec"].split()[0] == "procviz"
    assert entry["Icon"] == "procviz" and entry["Categories"].endswith(";")
    scripts = pyproject()["project"]["scripts"]
    assert entry["Exec"].split()[0] in scripts
    validator = shutil.which("desktop-file-validate")  # desktop-file-utils, where installed
    if validator:
        proc = subprocess.run([validator, str(ROOT / "resources" / "procviz.desktop")], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_the_png_icon_is_the_svg_rendered() -> None:
    cairosvg = pytest.importorskip("cairosvg")
    from PySide6.QtGui import QImage

    svg = ROOT / "resources" / "icons" / "procviz.svg"
    committed = QImage(str(ROOT / "resources" / "icons" / "procviz.png"))
    assert (committed.width(), committed.height()) == (256, 256)
    fresh = QImage.fromData(cairosvg.svg2png(url=str(svg), output_width=256, output_height=256), "PNG")
    a = committed.convertToFormat(QImage.Format.Format_RGBA8888)
    b = fresh.convertToFormat(QImage.Format.Format_RGBA8888)
    pa, pb = bytes(a.constBits()), bytes(b.constBits())
    differing = sum(1 for x, y in zip(pa, pb, strict=True) if abs(x - y) > 8)
    assert differing < len(pa) * 0.01, "resources/icons/procviz.png is stale: re-render it from procviz.svg"


def test_the_window_uses_the_icon() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from procviz.gui.app import app_icon, configure_app

    app = QApplication.instance() or QApplication([])
    icon = app_icon()
    assert not icon.isNull()
    assert icon.availableSizes()[0].width() == 256
    configure_app(app)
    assert not app.windowIcon().isNull() and app.windowIcon().availableSizes()[0].width() == 256
    assert app.desktopFileName() == (ROOT / "resources" / "procviz.desktop").stem


@pytest.mark.skipif(os.environ.get("PROCVIZ_ALL_PRESETS") != "1",
                    reason="runs all shipped presets (about 5 minutes); PROCVIZ_ALL_PRESETS=1 to run")
def test_every_preset_runs_from_the_wheel(installed, tmp_path) -> None:
    expected_to_fail = {"backend_3_executor_broken_pool"}  # shows a killed worker breaking the executor: exit 1
    for preset in sorted(p.stem for p in (ROOT / "resources" / "presets").glob("*.json")):
        proc = run_there(installed, tmp_path, "procviz", "run", "--preset", preset, "--out", f"{preset}.json",
                         timeout=600)
        assert proc.returncode == (1 if preset in expected_to_fail else 0), (preset, proc.stderr[-2000:])
        assert json.loads((tmp_path / f"{preset}.json").read_text())["format"] == "procviz-timeline", preset
