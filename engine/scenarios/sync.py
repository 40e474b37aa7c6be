"""Synchronisation scenarios from the tutorials: Lock, Semaphore, Event.

All role processes first meet at a start gate (so they contend at once whatever their start-up
times), then:

* ``lock_critical_section``: each takes the Lock, works inside the critical section, releases.
  The others wait in ``lock.acquire``. Checked from the times each process held the lock: never
  two at once.
* ``semaphore``: ``Semaphore(workers)`` lets that many in at once (the tutorial's N seats); the
  others wait in ``semaphore.acquire``. Checked: the number inside never exceeded N.
* ``event_gate``: every process waits at an Event; the main program opens it after a delay
  (its own task's planned duration). Checked: nobody passed before it was opened.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from procviz.engine.scenarios.roles import MAIN_TASK, Outcome, StartGate, Work
from procviz.engine.worker.primitives import Event, Lock, Semaphore

if TYPE_CHECKING:  # the main programs' toolbox; role processes must not import it (parent side)
    from procviz.engine.scenarios.context import ScenarioRun

MODULE = "procviz.engine.scenarios.sync"


def locked_worker(index: int, gate: StartGate, lock: Lock, held: Any, work: Work) -> Outcome:
    """Wait at the gate, then do the work inside the Lock; note when the lock was held."""
    gate.arrive()
    with lock:
        held[2 * index] = time.monotonic_ns()
        work()
        held[2 * index + 1] = time.monotonic_ns()
    return Outcome(f"held the lock for {(held[2 * index + 1] - held[2 * index]) / 1e6:.1f} ms")


def main_lock(run: ScenarioRun) -> Outcome:
    """Roles take turns in a Lock-protected critical section; checks mutual exclusion."""
    roles_ids = run.role_ids
    gate, lock = StartGate(run.mp), Lock(run.mp)
    held = run.mp.RawArray("q", 2 * len(roles_ids))
    procs = run.start_roles({
        t: (f"{MODULE}:locked_worker", (k, gate, lock, held, run.work(t)), f"process {k + 1}", False)
        for k, t in enumerate(roles_ids)
    })
    run.wait_ready(gate, list(procs.values()))
    gate.open.set()
    run.join(list(procs.values()))
    spans = sorted((held[2 * k], held[2 * k + 1]) for k in range(len(roles_ids)))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise AssertionError(f"two processes held the Lock at once ({(end - start) / 1e6:.3f} ms overlap)")
    return Outcome(f"{len(spans)} critical sections, one at a time: the Lock was never held by two processes")


def guest(gate: StartGate, sem: Semaphore, inside: Any, peak: Any, work: Work) -> Outcome:
    """Wait at the gate, then enter through the Semaphore, counting who is inside."""
    gate.arrive()
    with sem:
        with inside.get_lock():
            inside.value += 1
            peak.value = max(peak.value, inside.value)
        work()
        with inside.get_lock():
            inside.value -= 1
    return Outcome("entered, worked, left")


def main_semaphore(run: ScenarioRun) -> Outcome:
    """``workers`` at a time through a Semaphore; checks the number inside never exceeded it."""
    seats = run.config.workers
    gate, sem = StartGate(run.mp), Semaphore(run.mp, seats)
    inside, peak = run.mp.Value("i", 0), run.mp.Value("i", 0)
    procs = run.start_roles({
        t: (f"{MODULE}:guest", (gate, sem, inside, peak, run.work(t)), f"guest {k + 1}", False)
        for k, t in enumerate(run.role_ids)
    })
    run.wait_ready(gate, list(procs.values()))
    gate.open.set()
    run.join(list(procs.values()))
    if peak.value > seats:
        raise AssertionError(f"{peak.value} processes were inside a Semaphore({seats})")
    return Outcome(f"at most {peak.value} of {len(procs)} inside at once through Semaphore({seats})")


def waiter(index: int, gate: StartGate, event: Event, passed: Any, work: Work) -> Outcome:
    """Say ready, wait at the Event, note when it let this process through, then work."""
    gate.ready.release()
    event.wait()
    passed[index] = time.monotonic_ns()
    work()
    return Outcome("waited at the Event, then worked")


def main_event_gate(run: ScenarioRun) -> Outcome:
    """Everyone waits at an Event the main program sets after a delay; checks nobody passed early."""
    roles_ids = run.role_ids
    gate, event = StartGate(run.mp), Event(run.mp)
    passed = run.mp.RawArray("q", len(roles_ids))
    procs = run.start_roles({
        t: (f"{MODULE}:waiter", (k, gate, event, passed, run.work(t)), f"waiter {k + 1}", False)
        for k, t in enumerate(roles_ids)
    })
    run.wait_ready(gate, list(procs.values()))
    delay_ms = float(run.plan.cost_ms[MAIN_TASK])
    run.pause(delay_ms / 1000.0)
    opened = time.monotonic_ns()
    event.set()
    run.join(list(procs.values()))
    early = [k for k in range(len(roles_ids)) if passed[k] < opened]
    if early:
        raise AssertionError(f"processes {early} passed the Event before it was set")
    return Outcome(f"{len(roles_ids)} processes waited at the Event until the main program set it "
                   f"after {delay_ms:.0f} ms; none passed before")
