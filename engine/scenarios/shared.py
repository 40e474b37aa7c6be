"""Sharing state between processes: a Manager dict under a Lock, and Value/Array in shared memory.

* ``manager_counter`` (the tutorial's 100 processes): a ``Manager().dict({'count': n})`` and a
  Lock; every process does ``with lock: dic['count'] -= 1``. Each ``-=`` is two round trips to
  the Manager's server process (a lane of its own), recorded as ``manager.dict`` waits. Checked:
  the counter reaches 0.
* ``value_array``: ``Value('d', 0)`` and ``Array('i', range(10 n))``; each child sets the value to
  3.1415926 and negates its slice of the array. Checked: the main program sees every write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procviz.engine.scenarios.roles import Outcome, Work
from procviz.engine.worker.primitives import Lock, waiting

if TYPE_CHECKING:  # the main programs' toolbox; role processes must not import it (parent side)
    from procviz.engine.scenarios.context import ScenarioRun

MODULE = "procviz.engine.scenarios.shared"
PI = 3.1415926
SLICE = 10


def decrement(counter: Any, lock: Lock, work: Work) -> Outcome:
    """Work, then take 1 from the shared counter under the Lock."""
    work()
    with lock:
        with waiting("manager.dict"):
            counter["count"] -= 1
    return Outcome("count -= 1 under the Lock")


def main_manager_counter(run: ScenarioRun) -> Outcome:
    """Start every decrementing process at once (as the tutorial does); checks the count reaches 0."""
    n = len(run.role_ids)
    manager = run.manager()
    counter = manager.dict({"count": n})
    lock = Lock(run.mp)
    procs = run.start_roles({
        t: (f"{MODULE}:decrement", (counter, lock, run.work(t)), f"process {k + 1}", False)
        for k, t in enumerate(run.role_ids)
    })
    run.join(list(procs.values()))
    final = counter["count"]
    if final != 0:
        raise AssertionError(f"the counter ended at {final}, not 0")
    return Outcome(f"{n} processes each took 1 under a Lock: {{'count': {n}}} became {{'count': {final}}}")


def writer(index: int, num: Any, arr: Any, work: Work) -> Outcome:
    """Set the shared Value and negate this process's slice of the shared Array."""
    work()
    num.value = PI
    for i in range(index * SLICE, (index + 1) * SLICE):
        arr[i] = -arr[i]
    return Outcome(f"num.value = {PI}; negated arr[{index * SLICE}:{(index + 1) * SLICE}]")


def main_value_array(run: ScenarioRun) -> Outcome:
    """Children write shared memory; checks the main program sees their writes."""
    n = len(run.role_ids)
    num = run.mp.Value("d", 0.0)
    arr = run.mp.Array("i", range(SLICE * n))
    procs = run.start_roles({
        t: (f"{MODULE}:writer", (k, num, arr, run.work(t)), f"writer {k + 1}", False)
        for k, t in enumerate(run.role_ids)
    })
    run.join(list(procs.values()))
    values = list(arr[:])
    if num.value != PI or values != [-i for i in range(SLICE * n)]:
        raise AssertionError(f"the main program sees num={num.value}, arr={values[:12]}…")
    return Outcome(f"the main program sees its children's writes: num = {num.value}, "
                   f"arr = [0, -1, …, -{SLICE * n - 1}]")
