"""The submitter thread of a run: creates the backend's workers, then submits the plan to them.

Creating a pool of many spawn workers takes seconds; doing it on its own thread keeps the engine
thread free to notice a Stop (the backend's cancel() makes creation give up). It is started as
early as a run allows (see :mod:`procviz.engine.runner`): the workers boot while the engine
imports and builds what it needs only once they are there.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from procviz.engine.backends.base import Backend
    from procviz.engine.plan import TaskPlan


CREATED_POLL_S = 0.01  # how often a wait for the workers' creation looks at Stop


class Submitter:
    """Runs ``backend.start()`` then ``backend.submit(plan)`` on a daemon thread; never raises."""

    def __init__(self, backend: Backend, plan: TaskPlan) -> None:
        self.backend = backend
        self.plan = plan
        self.stop = threading.Event()  # set: submit nothing more (the run is ending)
        self.error = ""  # set when start or submit raised: reported by the engine loop as a run error
        self._created = threading.Event()  # backend.start() returned (or raised): every first worker exists
        self.ended = threading.Event()  # set as the thread ends: the engine's wait wakes on it
        self._thread = threading.Thread(target=self._run, name="procviz-submit", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def is_alive(self) -> bool:
        """Whether it is still creating workers or submitting."""
        return self._thread.is_alive()

    def wait_created(self, timeout_s: float, stop: threading.Event) -> None:
        """Wait until the backend's first workers exist, at most ``timeout_s``, and no longer than
        ``stop`` stays unset (a Stop must not wait for a large pool's creation)."""
        deadline = time.monotonic() + timeout_s
        while not self._created.wait(CREATED_POLL_S) and not stop.is_set() and time.monotonic() < deadline:
            pass

    def join(self, timeout_s: float) -> None:
        """Wait for the thread to end (at most ``timeout_s``); nothing to wait for if never started."""
        if self._thread.ident is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            try:
                self.backend.start()
            finally:
                self._created.set()
            if self.stop.is_set():
                return
            self.backend.submit(self.plan, self.stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the loop as a run error
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended.set()
