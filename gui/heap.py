"""The window's long-lived Python objects, kept out of the cyclic garbage collector's full passes.

Once the window is built, the process holds ~70k objects the collector tracks (Qt wrappers,
pyqtgraph items, the modules' own), and all of them live as long as the window. A full collection
walks every one of them: 20-40 ms here, holding the GIL, so no other Python thread runs meanwhile.
The engine collects after each run (to release a finished pool's descriptors), which put one such
pass between a run's last batch and the end shown in the window (40-130 ms at load 2-5), and the
collector's own full passes land in live runs too. Frozen (:func:`gc.freeze`), those objects are
skipped by every later collection (0.6-5 ms for the engine's), and ``procviz run`` does the same
after its imports (engine/cli.py). Objects made later are collected as usual.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_built_objects() -> None:
    """Move every object tracked now into the collector's permanent generation (once a process:
    what is built after the first window, a second window's included, stays collectable)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
