"""Can Qt open a window here? Checked before any QApplication exists, so procviz never aborts in Qt.

When Qt cannot load its platform plugin it calls ``qFatal``: the process aborts (exit 134) with a
message that often blames the wrong library (on Debian 12 it named ``xcb-cursor0``, which was
installed, while ``libxcb-icccm4`` and ``libxcb-keysyms1`` were missing). This module finds the
plugin Qt will use without importing PySide6, lists the shared libraries it cannot resolve (with
``ldd``, which follows the whole dependency tree), checks that a display is set and answers, and
turns what it finds into a message naming the packages for Debian/Ubuntu and Fedora.

Imports nothing of Qt and nothing outside the standard library.

``PROCVIZ_QT_EXTRA_LIBS`` (space-separated library names) adds libraries the check requires, so
a test (or a user reproducing a report) can simulate a missing one.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

EXTRA_LIBS_ENV = "PROCVIZ_QT_EXTRA_LIBS"
NO_CHECK_PLATFORMS = ("offscreen", "minimal", "vnc")  # need no display server
CONNECT_TIMEOUT_S = 2.0

# library name without its .so version -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util": ("libxcb-util1", "xcb-util"),
    "libxcb-randr": ("libxcb-randr0", "libxcb"),
    "libxcb-render": ("libxcb-render0", "libxcb"),
    "libxcb-shape": ("libxcb-shape0", "libxcb"),
    "libxcb-shm": ("libxcb-shm0", "libxcb"),
    "libxcb-sync": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx": ("libxcb-glx0", "libxcb"),
    "libxcb": ("libxcb1", "libxcb"),
    "libX11-xcb": ("libx11-xcb1", "libX11-xcb"),
    "libX11": ("libx11-6", "libX11"),
    "libxkbcommon-x11": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon": ("libxkbcommon0", "libxkbcommon"),
    "libEGL": ("libegl1", "libglvnd-egl"),
    "libGL": ("libgl1", "libglvnd-glx"),
    "libGLX": ("libglx0", "libglvnd-glx"),
    "libOpenGL": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig": ("libfontconfig1", "fontconfig"),
    "libfreetype": ("libfreetype6", "freetype"),
    "libdbus-1": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0": ("libglib2.0-0", "glib2"),
    "libwayland-client": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl": ("libwayland-egl1", "libwayland-egl"),
}
# What the README's install lines name: everything the xcb plugin of PySide6 needs beyond a base system.
README_PACKAGES = ("libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxkbcommon-x11-0", "libxcb-cursor0",
                   "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0",
                   "libxcb-shape0", "libxcb-xfixes0", "libxcb-xkb1")


@dataclass
class Problem:
    """Why one platform plugin cannot start; an empty problem means it can."""

    platform: str
    missing_libs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing_libs or self.reasons)


def package_of(lib: str) -> tuple[str, str] | None:
    """(Debian/Ubuntu, Fedora) package holding a library such as ``libxcb-icccm.so.4``, if known."""
    return PACKAGES.get(re.sub(r"\.so(\.\d+)*$", "", lib))


def install_lines(libs: list[str]) -> list[str]:
    """The apt and dnf lines that install ``libs`` (and a hint for names the table does not know)."""
    known = [p for p in (package_of(lib) for lib in libs) if p is not None]
    lines = []
    if known:
        lines.append("Debian/Ubuntu: sudo apt install " + " ".join(dict.fromkeys(d for d, _ in known)))
        lines.append("Fedora:        sudo dnf install " + " ".join(dict.fromkeys(f for _, f in known)))
    unknown = [lib for lib in libs if package_of(lib) is None]
    if unknown:
        lines.append(f"(find the package of {', '.join(unknown)} with: apt-file search NAME, or dnf provides '*/NAME')")
    return lines


def plugin_dir() -> Path | None:
    """PySide6's ``Qt/plugins/platforms`` folder, found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "Qt" / "plugins" / "platforms"
    return folder if folder.is_dir() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Shared libraries ``plugin`` needs (directly or through others) that the loader cannot find."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []  # cannot tell: let Qt try
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line})


def missing_extra_libraries(env: Mapping[str, str]) -> list[str]:
    """Libraries named in ``PROCVIZ_QT_EXTRA_LIBS`` that cannot be loaded."""
    missing = []
    for lib in env.get(EXTRA_LIBS_ENV, "").split():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(lib)
    return missing


def platforms_to_try(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order (``QT_QPA_PLATFORM``, else from the session)."""
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [part.split(":")[0].strip() for part in chosen.split(";") if part.strip()]
    wayland = ["wayland"] if env.get("WAYLAND_DISPLAY") else []
    return [*wayland, "xcb"]


def display_reason(platform: str, env: Mapping[str, str]) -> str | None:
    """Why the display server of ``platform`` cannot be reached, or None if it answers."""
    if platform == "xcb":
        display = env.get("DISPLAY", "")
        if not display:
            return "DISPLAY is not set"
        return None if _x_server_answers(display) else f"the X display {display!r} does not answer"
    if platform == "wayland":
        name = env.get("WAYLAND_DISPLAY", "")
        if not name:
            return "WAYLAND_DISPLAY is not set"
        path = Path(name) if name.startswith("/") else Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / name
        return None if _unix_answers(str(path)) else f"the Wayland display {str(path)!r} does not answer"
    return None


def _x_server_answers(display: str) -> bool:
    """Whether something listens where ``DISPLAY`` points (a Unix socket, or TCP 6000 + N)."""
    match = re.fullmatch(r"(?:unix)?(?P<host>[^:]*):(?P<num>\d+)(?:\.\d+)?", display)
    if match is None:
        return True  # a form this check does not know: let Qt decide
    host, num = match["host"], int(match["num"])
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{num}"
        return _unix_answers("\0" + path) or _unix_answers(path)  # abstract socket first, as Xlib does
    try:
        with socket.create_connection((host, 6000 + num), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def _unix_answers(address: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


def check_platform(platform: str, env: Mapping[str, str], plugins: Path | None) -> Problem:
    """Whether Qt's ``platform`` plugin can start here."""
    problem = Problem(platform)
    if plugins is not None:
        plugin = plugins / f"libq{platform}.so"
        if not plugin.exists():
            names = sorted(p.name[4:-3] for p in plugins.glob("libq*.so"))
            problem.reasons.append(f"Qt has no platform plugin {platform!r} (it has: {', '.join(names)})")
            return problem
        problem.missing_libs = missing_libraries(plugin)
    problem.missing_libs += missing_extra_libraries(env)
    if platform not in NO_CHECK_PLATFORMS:
        reason = display_reason(platform, env)
        if reason:
            problem.reasons.append(reason)
    return problem


def check(env: Mapping[str, str] | None = None) -> str | None:
    """None if Qt can open a window; else the message to print (what is missing and how to fix it)."""
    env = os.environ if env is None else env
    if not env.get("QT_QPA_PLATFORM") and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("procviz: no display: DISPLAY and WAYLAND_DISPLAY are not set (nor QT_QPA_PLATFORM).\n"
                "Start procviz from a desktop session (or ssh -X), or use the headless commands:\n"
                "  procviz run --preset NAME --out timeline.json    procviz export timeline.json --out chart.png")
    plugins = plugin_dir()
    problems = [check_platform(p, env, plugins) for p in platforms_to_try(env)]
    if not all(problems):
        return None
    return _message(problems)


def _message(problems: list[Problem]) -> str:
    lines = []
    missing: list[str] = []
    for problem in problems:
        why = list(problem.reasons)
        if problem.missing_libs:
            why.insert(0, "missing system libraries: " + ", ".join(problem.missing_libs))
            missing += problem.missing_libs
        lines.append(f"procviz: Qt platform {problem.platform!r} cannot start: " + "; ".join(why))
    if missing:
        lines.append("Install them:")
        lines += ["  " + line for line in install_lines(list(dict.fromkeys(missing)))]
    lines.append("Headless commands need no display: procviz run ..., procviz export ... (procviz --help).")
    return "\n".join(lines)
