"""``python -m procviz``: the same as the ``procviz`` command."""

from __future__ import annotations

import os
import sys

# ``-m`` puts the current folder first on sys.path: a student's queue.py there shadowed the
# standard library module procviz imports (AttributeError: module 'queue' has no attribute
# 'SimpleQueue'). It goes last in this process, as for the ``procviz`` command; a run still finds
# the user's own modules there first (procviz.engine.worker.workloads.import_user_module). (The
# processes a run starts put it first as Python does for any ``-c`` child: a random.py there
# breaks them, as it breaks the user's own multiprocessing script.)
try:
    here = os.getcwd()
except OSError:  # the current folder was removed: nothing of it can shadow anything
    here = ""
if sys.path and sys.path[0] in ("", here):
    sys.path.append(sys.path.pop(0))

from procviz.gui.app import main  # noqa: E402 - after the path's order is set

if __name__ == "__main__":
    sys.exit(main())
