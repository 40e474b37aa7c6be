"""What a run hands back when it ends (:class:`RunResult`), apart from the engine that makes it.

Its own module so that :mod:`procviz.engine.runner` (which starts runs) and
:mod:`procviz.engine.run_loop` (which ends them) share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from procviz.engine.events import RunOutcome

if TYPE_CHECKING:
    from procviz.engine.metrics import Metrics
    from procviz.engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended, with everything it recorded."""

    outcome: RunOutcome
    message: str
    timeline: Timeline
    metrics: Metrics
    # Worker threads of this process still running a task when the run ended (a thread cannot be
    # killed): a program that wants to exit must leave with os._exit, or wait for them forever.
    hung_threads: tuple[str, ...] = ()
