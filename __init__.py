"""procviz: a desktop process visualizer for Python's multiprocessing.

The repository's top-level folders install as this package's subpackages: ``engine/`` as
:mod:`procviz.engine` (runs pools and records timelines, never imports Qt), ``gui/`` as
:mod:`procviz.gui` (the PySide6 window) and ``resources/`` as :mod:`procviz.resources`
(presets, icon, desktop entry). Importing this package imports nothing else.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # __version__ is looked up on first use: every spawned worker imports this package, and
    # importlib.metadata plus a search of the installed distributions would cost each of them.
    if name != "__version__":
        raise AttributeError(f"module 'procviz' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("procviz")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
