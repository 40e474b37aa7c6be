"""Data files shipped with procviz: presets, the application icon, the desktop entry, the licence.

Every file is read through :mod:`importlib.resources`, so the same code works from a checkout,
an editable install, a wheel or a zip. Standard library only: the engine reads presets from here
and must stay free of Qt.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

PRESETS = "presets"
ICON_SVG = "icons/procviz.svg"
ICON_PNG = "icons/procviz.png"
DESKTOP_ENTRY = "procviz.desktop"
LICENSE = "LICENSE"


def resource(name: str) -> Traversable:
    """One shipped file or folder, by its path relative to this package (e.g. :data:`ICON_PNG`)."""
    node = files(__name__)
    for part in name.split("/"):
        node = node / part
    return node


def read_bytes(name: str) -> bytes:
    """The contents of one shipped file."""
    return resource(name).read_bytes()
