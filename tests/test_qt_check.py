"""Qt that fails with a message, never an abort: the start-up check of the window."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

import pytest

from procviz.gui import qt_check

WINDOW = [sys.executable, "-c", "import sys; from procviz.gui.app import main; sys.exit(main(['procviz']))"]


def window_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", qt_check.EXTRA_LIBS_ENV)}
    env.update(extra)
    return env


def start_window(env: dict[str, str], tmp_path: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run(WINDOW, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_missing_xcb_libraries_are_named_with_the_install_lines(tmp_path) -> None:
    # A display is set, and the xcb plugin needs a library this machine lacks (simulated).
    env = window_env(DISPLAY=":97", **{qt_check.EXTRA_LIBS_ENV: "libxcb-icccm.so.99 libxcb-keysyms.so.99"})
    proc = start_window(env, tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])  # not 134 (abort) nor -6 (SIGABRT)
    err = proc.stderr
    assert "libxcb-icccm.so.99" in err and "libxcb-keysyms.so.99" in err
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in err
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in err
    assert "Aborted" not in err and "qt.qpa" not in err  # Qt was never asked


def test_no_display_says_so_and_exits_2(tmp_path) -> None:
    proc = start_window(window_env(), tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "no display" in proc.stderr and "DISPLAY" in proc.stderr
    assert "procviz run" in proc.stderr  # points at what works without one


def test_a_display_that_does_not_answer_exits_2(tmp_path) -> None:
    proc = start_window(window_env(DISPLAY=":97"), tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "':97' does not answer" in proc.stderr


def test_an_unknown_platform_lists_the_ones_qt_has(tmp_path) -> None:
    proc = start_window(window_env(QT_QPA_PLATFORM="nosuchplatform"), tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "nosuchplatform" in proc.stderr and "offscreen" in proc.stderr


def test_offscreen_passes_the_check() -> None:
    assert qt_check.check({"QT_QPA_PLATFORM": "offscreen"}) is None


def test_the_shipped_plugin_resolves_its_libraries_here() -> None:
    plugins = qt_check.plugin_dir()
    if plugins is None:
        pytest.skip("PySide6 without platform plugins")
    assert (plugins / "libqxcb.so").exists()
    missing = qt_check.missing_libraries(plugins / "libqoffscreen.so")
    assert missing == [], missing  # the tests render offscreen, so these must all be present


def test_install_lines_know_the_usual_suspects() -> None:
    assert qt_check.package_of("libxcb-cursor.so.0") == ("libxcb-cursor0", "xcb-util-cursor")
    assert qt_check.package_of("libxkbcommon-x11.so.0") == ("libxkbcommon-x11-0", "libxkbcommon-x11")
    assert qt_check.package_of("libEGL.so.1") == ("libegl1", "libglvnd-egl")
    lines = qt_check.install_lines(["libxcb-icccm.so.4", "libmystery.so.3"])
    assert lines[0].endswith("apt install libxcb-icccm4") and lines[1].endswith("dnf install xcb-util-wm")
    assert "libmystery.so.3" in lines[2]
    for package in qt_check.README_PACKAGES:  # every package the README names is one the table knows
        assert any(package == debian for debian, _ in qt_check.PACKAGES.values()), package


def test_platforms_follow_qt_qpa_platform_then_the_session() -> None:
    assert qt_check.platforms_to_try({"QT_QPA_PLATFORM": "wayland;xcb"}) == ["wayland", "xcb"]
    assert qt_check.platforms_to_try({"QT_QPA_PLATFORM": "xcb:nograb"}) == ["xcb"]
    assert qt_check.platforms_to_try({"DISPLAY": ":0"}) == ["xcb"]
    assert qt_check.platforms_to_try({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == ["wayland", "xcb"]


def test_a_listening_wayland_socket_answers(tmp_path) -> None:
    path = tmp_path / "wayland-test"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        env = {"WAYLAND_DISPLAY": "wayland-test", "XDG_RUNTIME_DIR": str(tmp_path)}
        assert qt_check.display_reason("wayland", env) is None
    assert "does not answer" in (qt_check.display_reason("wayland", {**env, "WAYLAND_DISPLAY": "gone"}) or "")


def test_readme_lists_the_system_packages_next_to_the_first_command() -> None:
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    first_command = readme.index("pip install -e . && procviz")
    apt = readme.index("sudo apt install")
    assert apt < first_command + 600, "the apt line must sit next to the first command"
    apt_line = readme[apt:readme.index("\n", apt)]
    for package in qt_check.README_PACKAGES:
        assert package in apt_line, package
