"""What a group of short tasks' readings pin down for each of its tasks (the worker's short-task loop).

:func:`procviz.engine.worker.instrument._run_coarse` reads the thread's CPU clock, and schedstat's
run-queue wait, once per group of short tasks, not per task; here a group's rows in the ring are
given what those readings say of each task: its on-CPU time (:func:`settle_group`), and for a
long task that closes the group, its run-queue wait (:func:`settle_ready`), or -1 (unmeasured)
where the readings do not pin it down. Standard library only (a worker imports it).
"""

from __future__ import annotations

from typing import Any

from procviz.engine.worker.recorder import ROW, SOLO_TASKS

# A group off CPU for no more than this keeps on-CPU = wall for its tasks: within the two clocks'
# disagreement at a reading (the CPU clock is the scheduler's, and the two part now and then).
SETTLE_NS = 500
# After a group of short tasks off CPU (its tasks unmeasured), the next SOLO_TASKS (recorder.py)
# tasks read the CPU clock each (a group of one, measured), then groups are tried again; each group
# off CPU in a row doubles that, up to MAX_SOLO: tasks that block briefly, each, stay measured.
MAX_SOLO = 1 << 16
# A wire row as 8-byte fields (kind/status/thread, task id, end, on-CPU, ready, start): worker/wire.py
_END_FIELD, _CPU_FIELD, _READY_FIELD, _START_FIELD = 2, 3, 4, 5


def close_group(ring: Any, first: int, end: int, cpu: int, wall: int, solo: int,
                 backoff: int) -> tuple[bool, int, int]:
    """Settle the group of rows at ring bytes ``first`` to ``end`` (``cpu`` on CPU in ``wall``)
    if its reading says anything the provisional on-CPU = wall does not; whether it did, and the
    loop's next ``solo`` and ``backoff`` (see instrument._run_coarse)."""
    lost = wall - cpu  # the group's wall time off CPU, at least
    many = end - first > ROW
    settle = lost > 0 and (lost > SETTLE_NS or not many)
    if settle:
        settle_group(ring, first, end, cpu, wall)
    if many:  # a group off CPU: its short tasks unmeasured; the next ones one by one for a while
        solo, backoff = (backoff, min(backoff * 2, MAX_SOLO)) if lost > SETTLE_NS else (0, SOLO_TASKS)
    elif solo:
        solo -= 1
    return settle, solo, backoff


def settle_group(ring: Any, first: int, end: int, cpu: int, wall: int) -> None:
    """Give each row of a group (ring bytes ``first`` to ``end``) the on-CPU time the group's
    reading pins down: ``cpu`` on CPU in ``wall`` of wall time, more than SETTLE_NS of it off CPU
    (or a group of one task).

    A task of wall time w, in a group where the others took W - w, was on CPU for at least
    ``cpu - (W - w)`` and at most ``min(w, cpu)``. Where that range is narrow, within 1/16 of
    the task's wall time, the row keeps its lower end (a group of one: its reading exactly);
    where it is not (a short task in a group that was off CPU for longer than the task), on-CPU
    is unmeasured, -1, never shared out by guess.
    """
    fields = memoryview(ring).cast("B").cast("q")
    for at in range(first // 8, end // 8, ROW // 8):
        w = fields[at + _END_FIELD] - fields[at + _START_FIELD]
        low, high = max(cpu - (wall - w), 0), min(w, cpu)
        fields[at + _CPU_FIELD] = min(low, high) if high - low <= w >> 4 else -1


def settle_ready(ring: Any, at_byte: int, ready: int, wall: int) -> None:
    """Give the row at ring byte ``at_byte`` (a task of at least FINE_NS, its group's last) the
    run-queue wait its group's readings pin down: ``ready`` in the group's ``wall``.

    The task (wall time w) waited at least ``ready - (wall - w)`` (the rest of the group could hold
    no more) and at most ``min(w, ready)``; within 1/16 of w (the group's short tasks before it
    last ~20 us at most, the task 200 us or more), the row keeps the lower end, never more than
    its time off CPU; else it stays unmeasured (-1).
    """
    fields = memoryview(ring).cast("B").cast("q")
    at = at_byte // 8
    w = fields[at + _END_FIELD] - fields[at + _START_FIELD]
    low, high = max(ready - (wall - w), 0), min(w, ready)
    if high - low <= w >> 4:
        cpu = fields[at + _CPU_FIELD]
        fields[at + _READY_FIELD] = min(low, w - cpu) if cpu >= 0 else low
