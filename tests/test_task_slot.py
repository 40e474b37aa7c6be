"""A worker's death is pinned on the task it was in, never on one it had finished (issue 11).

The task slot (engine/worker/task_slot.py) holds the task a worker began last; the task's row in
the ring mapped with it says it ended. A worker killed between tasks, its last task's END still
unsent, must not have that task blamed for its death; a worker killed inside a task still names it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import run_config

from procviz.engine.events import TaskState

TASKS_MODULE = '''
import os, signal, threading, time
from procviz.engine.worker.instrument import recorder
from procviz.engine.worker.task_slot import finished_task_of

def die_after(x):
    """Return x; once this task has ended, the worker is SIGKILLed, its events never sent."""
    rec = recorder()
    rec._send_lock.acquire()  # no batch leaves this worker any more: this task's END stays unsent
    def kill():
        # Killed once the task's row is in the slot's ring, however long the loaded machine takes to
        # write it (a fixed 0.3 s could run out first under load); without the row by then, die anyway (and be blamed).
        deadline = time.monotonic() + 20
        while finished_task_of(rec.address, os.getpid()) != x and time.monotonic() < deadline:
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=kill, daemon=True).start()
    return x

def quiet_then_die(x):
    """Tasks 0 and 1 end at once (no result: tiny tasks share a group of rows not sent yet); in
    task 2 the worker exits abnormally, at once (or after 0.3 s: see the test)."""
    if x == 2:
        time.sleep(float(os.environ.get("PROCVIZ_TEST_DIE_AFTER_S", "0")))
        os._exit(3)

def die_in(x):
    """SIGKILL this worker inside the task."""
    os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.fixture
def tasks_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module above, importable by the run's workers (it is in the current folder)."""
    (tmp_path / "procviz_slot_tasks.py").write_text(TASKS_MODULE)
    monkeypatch.chdir(tmp_path)
    return "procviz_slot_tasks"


def _run(module: str, fn: str) -> tuple[object, object]:
    result = run_config({"backend": "pool", "workers": 1, "chunksize": 1,
                         "workload": {"kind": "function", "function": f"{module}:{fn}", "args": [[0]]}})
    tl = result.timeline
    dead = [info for info in tl.lanes if info.exit_code == -9]
    assert dead, "the worker's death was observed"
    return tl, min(dead, key=lambda info: info.exit_ns)  # the first (a replacement may be ended at the run's end)


def test_a_worker_killed_between_tasks_blames_no_finished_task(tasks_module: str) -> None:
    """Its END never left the worker, but its row is in the ring the worker's death leaves behind:
    the task is done, with the end and the times its worker measured, and blamed for nothing."""
    tl, lane = _run(tasks_module, "die_after")
    assert tl.state[0] == TaskState.DONE, tl.texts.get(0)
    assert 0 < tl.start_ns[0] <= tl.end_ns[0] <= lane.exit_ns
    assert tl.texts.get(0) is None  # its result's text went down with the worker: none, and no blame


def test_a_worker_killed_in_a_task_still_names_it(tasks_module: str) -> None:
    tl, lane = _run(tasks_module, "die_in")
    text = tl.texts[0]
    assert tl.state[0] == TaskState.FAILED and text is not None
    assert text.type_name == "WorkerDied", text
    assert f"pid {lane.pid}" in text.message and "killed by SIGKILL" in text.message


def test_the_engine_reads_a_slot_and_its_ring(tmp_path: Path) -> None:
    """A slot's task is finished if its SPAN row is in the ring, whatever its id's bytes look like
    elsewhere in the rows (ids 0 and 256 among zeros, a row not yet written: task id -1)."""
    from procviz.engine.worker.task_slot import NO_GROUP, finished_task_of, slot_path, task_of
    from procviz.engine.worker.wire import WIRE_EVENT_STRUCT

    address, pid = str(tmp_path / "events.sock"), 1234
    ring = bytearray(WIRE_EVENT_STRUCT.pack(3, 3, pid, -1, 0, 0, 0, 0) * 512)
    for k, (status, task) in enumerate(((4, 77), (3, 0), (3, 256))):
        WIRE_EVENT_STRUCT.pack_into(ring, 48 * (100 + k), 3, status, pid, task, 1, 0, 0, 0)
    cases = {77: (None, 77), 0: (None, 0), 256: (None, 256), 78: (78, None), 1: (1, None), -1: (None, None)}
    for slot, expected in cases.items():
        head = slot.to_bytes(8, "little", signed=True) + bytes(8) + NO_GROUP.to_bytes(8, "little")
        Path(slot_path(address, pid)).write_bytes(head + bytes(ring))
        assert (task_of(address, pid), finished_task_of(address, pid)) == expected, slot
    assert task_of(address, 999) is None and finished_task_of(address, 999) is None  # no file


def test_rows_of_the_open_group_say_their_on_cpu_is_unmeasured(tmp_path: Path) -> None:
    """A short task's row carries on-CPU = wall until its group's CPU reading settles it: a ring
    read before that (a timeout, a death) takes the open group's rows as unmeasured (-1), and the
    settled rows before it as written."""
    import numpy as np

    from procviz.engine.events import WIRE_EVENT_DTYPE
    from procviz.engine.worker.task_slot import read_slot, slot_path
    from procviz.engine.worker.wire import WIRE_EVENT_STRUCT

    address, pid = str(tmp_path / "events.sock"), 1234
    ring = bytearray(WIRE_EVENT_STRUCT.pack(3, 3, pid, -1, 0, 0, 0, 0) * 64)
    for task in range(6):  # task k from 10k to 10k + 10: on-CPU = wall as packed
        WIRE_EVENT_STRUCT.pack_into(ring, 48 * task, 3, 3, pid, task, 10 * task + 10, 10, -1, 10 * task)
    open_since = 30  # tasks 3, 4, 5 are the open group's
    head = (5).to_bytes(8, "little", signed=True) + (50).to_bytes(8, "little") + open_since.to_bytes(8, "little")
    Path(slot_path(address, pid)).write_bytes(head + bytes(ring))
    slot = read_slot(address, pid)
    assert slot is not None and slot.task == 5 and slot.ended and slot.open_since == open_since
    rows = np.frombuffer(slot.rows_of(lambda task: task >= 1), WIRE_EVENT_DTYPE)
    assert rows["task_id"].tolist() == [1, 2, 3, 4, 5]
    assert rows["cpu_ns"].tolist() == [10, 10, -1, -1, -1]


@pytest.mark.parametrize("die_after_s", ["0", "0.3"])
def test_tasks_ended_before_a_death_are_taken_from_the_ring(tasks_module: str, die_after_s: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Short tasks' rows leave the worker once their group closes (instrument._run_coarse): a
    worker that dies in the task after them takes them down unsent (at once; after 0.3 s the
    flusher has sent them with that task's START), but its ring outlives it, and they are done,
    not lost with it; the task it died in is named."""
    monkeypatch.setenv("PROCVIZ_TEST_DIE_AFTER_S", die_after_s)
    result = run_config({"backend": "pool", "workers": 1, "chunksize": 4,
                         "workload": {"kind": "function", "function": f"{tasks_module}:quiet_then_die",
                                      "args": [[0], [1], [2]]}})
    tl = result.timeline
    assert tl.state[:2].tolist() == [TaskState.DONE, TaskState.DONE], [tl.texts.get(t) for t in range(3)]
    assert tl.state[2] == TaskState.FAILED and tl.texts[2].type_name == "WorkerDied", tl.texts.get(2)
