"""procviz's own main module is nothing a worker needs: spawned workers skip it.

A spawn or forkserver child runs its parent's main module again, as ``__mp_main__``, before it
unpickles its work, so that functions a user's *script* defines resolve in the child. In procviz's
process the main module is procviz's launcher, never a user's script: the ``procviz`` console
script (``from procviz.gui.app import main``) or ``python -m procviz``. Nothing a worker runs lives
there: tasks are procviz's own workloads and scenarios, or a user's ``module:function`` imported by
its module's name.

``python -m procviz`` already says so to multiprocessing: a main module named ``*.__main__`` is
not run again in a child. The console script's main module has no name (no ``__spec__``), so
every spawned worker ran the script: it imported the window's module and with it argparse,
logging and traceback (``PYTHONPROFILEIMPORTTIME=1 procviz run ...``: ``procviz.gui.app`` took
6.5-17 ms in each worker). :func:`skip_main_module_in_workers` gives the launcher the name it has
under ``-m``; then the children skip it alike, and a forkserver does not preload it either.
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec

LAUNCHER = "procviz.__main__"  # what ``python -m procviz`` runs, and what the console script does


def skip_main_module_in_workers() -> None:
    """Make spawn and forkserver children of this process skip its main module (see the module
    docstring). Call it only where the main module is procviz's launcher: the ``procviz`` command
    called as the program. A main module that already has a name is left as it is."""
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None:
        main.__spec__ = ModuleSpec(LAUNCHER, None)
