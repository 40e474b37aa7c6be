"""Light and dark looks: the system's own by default, or Fusion with a light or dark palette.

The state colours (gui.colors) are mid-luminance and read on both; everything else takes its
colours from the palette, so choosing a theme here is enough.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for small text."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {
        role.Window: "#2b2d30", role.WindowText: "#e6e6e6", role.Base: "#1f2023",
        role.AlternateBase: "#2a2b2f", role.ToolTipBase: "#3a3c40", role.ToolTipText: "#f0f0f0",
        role.Text: "#e6e6e6", role.Button: "#36383c", role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b", role.Link: "#7fb2f0", role.Highlight: "#3d7bd9",
        role.HighlightedText: "#ffffff", role.Mid: "#5a5d63", role.Dark: "#18191b",
        role.Light: "#4a4d52", role.PlaceholderText: "#9a9da3",
    }
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#7d8087"))
    return p


_SYSTEM: dict[int, tuple[str, QPalette]] = {}  # id(app) -> the style and palette it started with


def apply_theme(app: QApplication, theme: str) -> None:
    """Use ``theme`` ("system", "light" or "dark") for the whole application.

    Can be called again at any time (the View menu does): "system" brings back the style and
    palette the application had before the first call.
    """
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}: use one of {', '.join(THEMES)}")
    if id(app) not in _SYSTEM:
        _SYSTEM[id(app)] = (app.style().name(), QPalette(app.palette()))
    if theme == "system":
        style, palette = _SYSTEM[id(app)]
        app.setStyle(style)
        app.setPalette(palette)
        return
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
