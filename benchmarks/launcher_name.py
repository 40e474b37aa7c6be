"""Benchmark children that stand in for the ``procviz`` command name their main module as it does.

The command's spawned workers skip its launcher (``engine/main_module.py``). A benchmark script
that runs procviz in its own process is that process's main module instead: left unnamed, it runs
again in every spawn or forkserver worker, with its own imports (numpy, probes): ~100 ms of a
worker's boot that neither the ``procviz`` command nor ``procviz run`` pays. Done here, not
through procviz, so a ``--baseline`` tree from before main_module.py is measured alike.
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec


def name_main_as_the_launcher() -> None:
    """Give an unnamed main module the name ``python -m procviz`` gives procviz's launcher."""
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None:
        main.__spec__ = ModuleSpec("procviz.__main__", None)
