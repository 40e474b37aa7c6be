"""``python -m procviz``: the same as the ``procviz`` command."""

from __future__ import annotations

import os
import sys

# ``-m`` puts the current folder first on sys.path: a student's queue.py or random.py there would
# shadow the standard library modules procviz imports (AttributeError: module 'queue' has no
# attribute 'SimpleQueue'). It goes last, as for the ``procviz`` command; a run still finds the
# user's own modules there first (procviz.engine.worker.workloads.import_user_module).
if sys.path and sys.path[0] in ("", os.getcwd()):
    sys.path.append(sys.path.pop(0))

from procviz.gui.app import main  # noqa: E402 - after the path's order is set

if __name__ == "__main__":
    sys.exit(main())
