"""Regression: PySide6 6.12.0 aborts CPython 3.11 after a few hundred Signal.emit() calls.

pyproject.toml pins PySide6-Essentials below 6.12 on Python < 3.12. This runs 20,000 emits in a
subprocess (an abort kills the interpreter, so it must not be this one).
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
import os
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QObject, Signal, QCoreApplication
app = QCoreApplication([])
class Emitter(QObject):
    fired = Signal(int)
got = []
e = Emitter()
e.fired.connect(got.append)
for i in range(20_000):
    e.fired.emit(i)
    e.blockSignals(False)
print(len(got))
"""


def test_twenty_thousand_emits_do_not_abort_the_interpreter() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"interpreter died ({proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "20000"
