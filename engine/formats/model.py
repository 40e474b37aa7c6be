"""What every writer needs from a Timeline beyond its raw columns: names, lanes, reasons, the end.

Kept in one place so the three formats agree: a state is written as the same word, a failure as
the same reason text, and a task on a lane the Timeline never described gets the same placeholder
lane everywhere (the one :meth:`Timeline.apply` would have made).
"""

from __future__ import annotations

import numpy as np

from procviz.engine.events import LaneInfo, LaneKind, RunInfo, RunOutcome, RunPhase, TaskState, TaskText, WorkerState
from procviz.engine.timeline import Timeline

TASK_STATE_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in TaskState)
WORKER_STATE_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in WorkerState)
RUN_PHASE_NAMES: tuple[str, ...] = tuple(p.name.lower() for p in RunPhase)
RUN_OUTCOMES: tuple[str, ...] = tuple(RunOutcome)
LANE_KINDS: tuple[str, ...] = tuple(LaneKind)
TEXT_KINDS = ("error", "result")


def require_run(timeline: Timeline) -> RunInfo:
    """The timeline's run; a timeline that never began has nothing to export."""
    if timeline.run is None:
        raise ValueError("the timeline has no run yet: nothing to export")
    return timeline.run


def placeholder_lane(index: int) -> LaneInfo:
    """The lane Timeline.apply creates for an index it has no LaneInfo for."""
    return LaneInfo(index=index, pid=0, tid=0, kind=LaneKind.PROCESS, name="")


def export_lanes(timeline: Timeline) -> list[LaneInfo]:
    """The timeline's lanes, extended with placeholders up to every lane index the data uses."""
    lanes = list(timeline.lanes)
    used = [timeline.lane, timeline.intervals.data["lane"], timeline.resources.data["lane"],
            timeline.spans.data["lane"]]
    top = max((int(col.max()) for col in used if len(col)), default=-1)
    lanes.extend(placeholder_lane(i) for i in range(len(lanes), top + 1))
    return lanes


def reason_text(text: TaskText | None) -> str:
    """The one-line reason of a failure: ``"ValueError: boom"``; empty for results and no text."""
    if text is None or text.kind != "error":
        return ""
    if text.type_name and text.message:
        return f"{text.type_name}: {text.message}"
    return text.type_name or text.message


def trace_end_ns(timeline: Timeline) -> int:
    """The last moment the timeline knows of: the live edge or the latest recorded time."""
    candidates = [timeline.now_ns, timeline.t0_ns]
    for col in (timeline.end_ns, timeline.start_ns, timeline.submitted_ns, timeline.intervals.data["end_ns"],
                timeline.spans.data["end_ns"], timeline.resources.data["t_ns"]):
        if len(col):
            candidates.append(int(col.max()))
    candidates.extend(lane.exit_ns for lane in timeline.lanes)
    return max(candidates)


def derived_arg_texts(timeline: Timeline) -> list[str]:
    """Each task's arguments as shown to a person (Timeline.arg_text, vectorised for 1M tasks)."""
    table, index = arg_table(timeline)
    return [table[k] for k in index.tolist()]


def arg_table(timeline: Timeline) -> tuple[list[str], np.ndarray]:
    """The tasks' argument texts as distinct texts and, per task, the index of its text: a million
    tasks of one kind share a handful of texts (``"cpu 1.0 ms"``), so writers format each once."""
    run = require_run(timeline)
    n = timeline.n_tasks
    if run.arg_texts:
        texts = list(run.arg_texts[:n])
        texts += [""] * (n - len(texts))
        return texts, np.arange(n)
    kind = (run.config.get("workload") or {}).get("kind", "") if isinstance(run.config, dict) else ""
    cost = timeline.cost_ms
    if not len(cost) or not np.isfinite(cost).any():
        return [""], np.zeros(n, dtype=np.intp)
    # Distinct bit patterns, not values: -0.0 prints as "-0.0", 0.0 as "0.0".
    bits, index = np.unique(np.ascontiguousarray(cost, dtype=np.float64).view(np.int64), return_inverse=True)
    values = bits.view(np.float64).tolist()
    return [f"{kind} {c:.1f} ms" if np.isfinite(c) else "" for c in values], index.reshape(-1)
