"""``python -m procviz``: the same as the ``procviz`` command."""

from __future__ import annotations

import sys

from procviz.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
