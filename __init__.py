"""procviz: a desktop process visualizer for Python's multiprocessing.

The repository's top-level folders install as this package's subpackages: ``engine/`` as
:mod:`procviz.engine` (runs pools and records timelines, never imports Qt), ``gui/`` as
:mod:`procviz.gui` (the PySide6 window) and ``resources/`` as :mod:`procviz.resources`
(presets, icon, desktop entry). Importing this package imports nothing else.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("procviz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
