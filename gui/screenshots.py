"""Screenshots of the window for the README, by one command: ``python -m procviz.gui.screenshots OUT_DIR``.

Runs the real window at 1280x720 (on whatever display Qt finds: an X server, Xvfb, or offscreen),
with throwaway settings, and saves three pictures: a live run caught mid-way, a scenario after it
ran, and the dark theme after a run. Each picture is the window as drawn (``QWidget.grab``), so the
result does not depend on a window manager.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

SIZE = (1280, 720)
SHOTS = (
    # (file name, theme, preset file-name prefix, seconds after half the tasks started; None: after)
    ("screenshot.png", "light", "07_cpu_more_workers", 0.5),
    ("screenshot-scenario.png", "light", "scenario_queue_producer", None),
    ("screenshot-dark.png", "dark", "05_map_chunksize", None),
)


def _wait(app: object, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)


def take(out: Path, name: str, theme: str, preset_prefix: str, at_s: float | None) -> Path:
    """Run the preset in a fresh window and save the window's picture to ``out/name``."""
    from PySide6.QtWidgets import QApplication

    from procviz.gui.main_window import MainWindow
    from procviz.gui.settings import make_settings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=make_settings(Path(tmp) / "settings.ini"), theme=theme)
        window.resize(*SIZE)
        window.show()
        _wait(app, 0.5)
        preset = next(p for p in window.setup.presets if p.path.name.startswith(preset_prefix))
        window.setup.apply_preset(preset)
        if not window.start_run():
            raise SystemExit(f"{preset.name}: the run did not start")
        if at_s is None:
            while window.running:
                _wait(app, 0.1)
            _wait(app, 0.5)
        else:
            tl = window.timeline
            while window.running and (tl.n_tasks == 0 or (tl.start_ns >= 0).sum() < tl.n_tasks / 2):
                _wait(app, 0.05)
            _wait(app, at_s)
        path = out / name
        window.grab().save(str(path))
        if window.running:
            window.bridge.stop_and_wait(5.0)
        window.close()
        window.deleteLater()
        _wait(app, 0.2)
    return path


def main(argv: list[str] | None = None) -> int:
    """Take every screenshot into the folder given (default: resources/)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", default=Path("resources"))
    parser.add_argument("--only", help="take only the shot whose file name starts with this")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, theme, prefix, at_s in SHOTS:
        if args.only and not name.startswith(args.only):
            continue
        print(take(args.out, name, theme, prefix, at_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
