"""Hover texts for the chart: a task's story in a few lines, a lane's state at a moment.

Plain text lines (no Qt) so the table or a status bar can reuse them; :func:`as_html` makes the
escaped rich text a QToolTip shows (error messages may contain ``<`` and must not be parsed).
"""

from __future__ import annotations

import html

from procviz.engine.events import LaneInfo, TaskState, WorkerState, describe_exit
from procviz.engine.timeline import Timeline, blocked_ns

NS_PER_MS = 1e6


def _ms(ns: int) -> str:
    return f"{ns / NS_PER_MS:.2f} ms" if ns >= 0 else "n/a"


def lane_label(info: LaneInfo, ordinal: int) -> str:
    """The row label: "worker N · pid P", "thread N · tid T" or "parent · callbacks".

    A lane the engine named after its role (a scenario's "producer 1") keeps that name.
    """
    if info.kind == "parent":
        return "parent · callbacks"
    if info.name and not info.name.startswith(("worker ", "thread ")):
        return f"{info.name} · {'tid ' + str(info.tid) if info.kind == 'thread' else 'pid ' + str(info.pid)}"
    if info.kind == "thread":
        return f"thread {ordinal} · tid {info.tid}"
    return f"worker {ordinal} · pid {info.pid}"


def lane_labels(lanes: list[LaneInfo]) -> list[str]:
    """Labels for all rows; N counts lanes of the same kind, so a replacement worker gets the next N."""
    seen: dict[str, int] = {}
    out = []
    for info in lanes:
        n = seen.get(info.kind, 0)
        seen[info.kind] = n + 1
        out.append(lane_label(info, n))
    return out


def task_tooltip_lines(timeline: Timeline, task_id: int) -> list[str]:
    """Id, state, arguments, worker, time split and result/error of one task."""
    if not 0 <= task_id < timeline.n_tasks:
        return []
    tl = timeline
    state = TaskState(int(tl.state[task_id]))
    lines = [f"task {task_id} · {state.name.lower()}"]
    args = tl.arg_text(task_id)
    if args:
        lines.append(f"args: {args}")
    lane = int(tl.lane[task_id])
    if 0 <= lane < len(tl.lanes):
        info = tl.lanes[lane]
        who = f"tid {info.tid}" if info.kind == "thread" else f"pid {info.pid}"
        lines.append(f"{who} · lane {lane}")
    start, end = int(tl.start_ns[task_id]), int(tl.end_ns[task_id])
    if start >= 0:
        t0 = tl.t0_ns
        if end >= 0:
            lines.append(f"{(start - t0) / 1e9:.4f} s → {(end - t0) / 1e9:.4f} s (wall {_ms(end - start)})")
        else:
            lines.append(f"started {(start - t0) / 1e9:.4f} s, running for {_ms(max(tl.now_ns - start, 0))}")
    # The Timeline's queued_ns()/waiting_ns() compute whole columns; one task needs one row
    # (same definitions, see engine/timeline.py).
    sub, cpu, ready = tl.submitted_at(task_id), int(tl.cpu_ns[task_id]), int(tl.ready_ns[task_id])
    queued = max(start - sub, 0) if sub >= 0 and start >= 0 else -1
    wall = end - start if start >= 0 and end >= 0 else -1
    waiting = int(blocked_ns(wall, cpu, ready, tl.measures_ready))
    ready_txt = _ms(ready) if ready >= 0 else "not measured"
    cpu_txt = _ms(cpu) if cpu >= 0 or wall < 0 else "not measured"
    waiting_txt = _ms(waiting) if waiting >= 0 or wall < 0 else "not measured"
    lines.append(f"queued {_ms(queued)} · on-CPU {cpu_txt} · ready {ready_txt} · waiting {waiting_txt}")
    text = tl.texts.get(task_id)
    if text is not None:
        if text.kind == "error":
            msg = f"{text.type_name}: {text.message}" if text.type_name else text.message
            lines.append(f"error: {msg[:300]}")
        else:
            lines.append(f"result: {text.message[:300]}")
    return lines


def _duration(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds >= 1 else f"{seconds * 1e3:.2f} ms"


def state_tooltip_lines(label: str, state: WorkerState, x0: float, x1: float,
                        info: LaneInfo | None = None) -> list[str]:
    """The worker's state over one interval of its strip; how it ended for ``terminated``."""
    if state == WorkerState.TERMINATED:
        lines = [label, f"terminated at {x0:.4f} s"]
        if info is not None:
            lines.append(describe_exit(info.exit_code))
        return lines
    return [label, f"{state.name.lower()} from {x0:.4f} s for {_duration(x1 - x0)}"]


def span_tooltip_lines(label: str, what: str, x0: float, x1: float) -> list[str]:
    """A wait span: what the worker waited in, from when, for how long."""
    return [label, f"waiting in {what}", f"from {x0:.4f} s for {_duration(x1 - x0)}"]


def as_html(lines: list[str]) -> str:
    """Escaped rich text for QToolTip (first line bold)."""
    if not lines:
        return ""
    body = [f"<b>{html.escape(lines[0])}</b>"] + [html.escape(line) for line in lines[1:]]
    return "<qt>" + "<br>".join(body) + "</qt>"
