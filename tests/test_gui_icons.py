"""The toolbar's Run and Stop read on both themes (the style's media icons were dark grey on dark grey)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from procviz.gui.actions import make_actions  # noqa: E402
from procviz.gui.gantt.overlay import contrast_ratio  # noqa: E402
from procviz.gui.theme import dark_palette  # noqa: E402


def test_run_and_stop_icons_stand_out_on_the_light_and_the_dark_theme(qapp) -> None:
    parent = QWidget()
    actions = make_actions(parent)
    light = parent.style().standardPalette().color(QPalette.ColorRole.Window)
    dark = dark_palette().color(QPalette.ColorRole.Window)
    for action in (actions.run, actions.stop):
        image = action.icon().pixmap(16, 16).toImage()
        opaque = [image.pixelColor(x, y) for y in range(image.height()) for x in range(image.width())
                  if image.pixelColor(x, y).alpha() > 200]
        assert len(opaque) > 40, action.text()  # a shape, not a speck
        mean = QColor(*(round(sum(getattr(c, part)() for c in opaque) / len(opaque))
                        for part in ("red", "green", "blue")))
        for background in (light, dark):
            assert contrast_ratio(mean, background) >= 2.0, (action.text(), mean.name(), background.name())
