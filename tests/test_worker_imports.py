"""Workers import the standard library only: no numpy, no psutil, no parent-side engine modules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from engine_helpers import function_workload, run_config

from procviz.engine.events import WIRE_EVENT_DTYPE
from procviz.engine.worker.wire import WIRE_EVENT_FIELDS, WIRE_EVENT_STRUCT, EventKind, TaskState

WORKER_MODULES = ("instrument", "recorder", "task_slot", "workloads", "primitives", "clock", "demo_tasks", "process",
                  "channel", "wire")


def test_worker_modules_import_no_heavy_module():
    code = ";".join(f"import procviz.engine.worker.{m}" for m in WORKER_MODULES)
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "procviz.engine.worker.instrument" in imported  # the check sees what it should
    heavy = {m for m in imported if m.partition(".")[0] in ("numpy", "psutil", "PySide6", "pyqtgraph")}
    parent_side = {m for m in imported if m.startswith("procviz.") and not m.startswith("procviz.engine.worker")
                   and m != "procviz.engine"}
    assert not heavy and not parent_side


def test_a_worker_start_imports_no_dataclasses():
    # dataclasses imports inspect (ast, dis): ~10 ms of CPU in every worker, where a bare Pool
    # worker starts in ~60 ms; the wire's records are plain slotted classes for that reason.
    code = ";".join(f"import procviz.engine.worker.{m}" for m in (*WORKER_MODULES, "startup", "lifeline"))
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "procviz.engine.worker.wire" in imported
    assert not imported & {"dataclasses", "inspect"}


def test_wire_records_compare_pickle_and_stay_immutable():
    import pickle

    from procviz.engine.worker.wire import TaskText, WaitSpan, WorkerBatch, WorkerHello

    hello = WorkerHello(pid=7, tid=8, created_ns=1, ready_ns=2, schedstat=True)
    batch = WorkerBatch(7, 3, b"\0" * 48, texts=(TaskText(1, "result", message="42"),), hello=hello,
                        waits=(WaitSpan(8, 1, 2, "lock.acquire"),), goodbye=True)
    back = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == batch and hash(back) == hash(batch) and back.hello == hello and back is not batch
    assert back.texts[0].traceback == "" and back.hello.cpu_ns == -1  # defaults travel too
    assert hello.replace(created_ns=5) == WorkerHello(7, 8, 5, 2, True) and hello.created_ns == 1
    assert batch != WorkerBatch(7, 4, b"\0" * 48) and "seq=3" in repr(batch)
    with pytest.raises(AttributeError):
        hello.pid = 9  # type: ignore[misc]


@pytest.mark.parametrize(("backend", "start_method"), [("pool", "spawn"), ("pool", "forkserver"),
                                                     ("process_pool_executor", "spawn")])
def test_a_real_worker_loads_no_heavy_module(backend, start_method):
    result = run_config({"backend": backend, "workers": 2, "start_method": start_method, "chunksize": 1,
                         "workload": function_workload("heavy_modules", 4)})
    texts = result.timeline.texts
    assert len(texts) == 4 and all(t.kind == "result" for t in texts.values())
    assert [t.message for t in texts.values()] == ["''"] * 4


def test_wire_struct_and_dtype_agree():
    names = [n for n in WIRE_EVENT_DTYPE.names if not n.startswith("_")]
    assert tuple(names) == WIRE_EVENT_FIELDS
    assert WIRE_EVENT_DTYPE.itemsize == WIRE_EVENT_STRUCT.size == 48
    values = (int(EventKind.END), int(TaskState.FAILED), 123456, 2**40 + 5, -7, 2**62, -1, 99)
    row = np.frombuffer(WIRE_EVENT_STRUCT.pack(*values), dtype=WIRE_EVENT_DTYPE)[0]
    assert tuple(int(row[n]) for n in names) == values


@pytest.mark.parametrize("ref", ["engine.demo_tasks:square", "engine.workloads:cpu",
                                 "procviz.engine.demo_tasks:square", "procviz.engine.workloads:cpu",
                                 "procviz.engine.worker.demo_tasks:square"])
def test_old_function_strings_still_resolve(ref):
    from procviz.engine.worker.workloads import resolve

    assert resolve(ref).__module__.startswith("procviz.engine.worker.")
