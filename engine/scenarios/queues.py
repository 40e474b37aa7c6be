"""Queue scenarios from the tutorials: producer/consumer over a bounded Queue, and JoinableQueue.

* ``queue_producer_consumer``: producers make items and ``put`` them into a ``Queue(3)``;
  consumers ``get`` and eat them, twice as slowly, so the queue fills and producers block in
  ``put`` (waiting). After joining the producers the main program puts one ``None`` per consumer
  (the tutorial's ``q.put('done')``). Checked: every item is eaten exactly once and the queue
  never held more than its size.
* ``joinable_queue``: producers ``put`` and then ``join()`` the queue, which returns only when
  daemon consumers have called ``task_done()`` for every item; the main program joins the
  producers and ends, which ends the daemon consumers (SIGTERM: their exit code shows it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procviz.engine.scenarios.roles import Outcome, Work, until_main_ends
from procviz.engine.worker.primitives import JoinableQueue, Queue

if TYPE_CHECKING:  # the main programs' toolbox; role processes must not import it (parent side)
    from procviz.engine.scenarios.context import ScenarioRun

MAXSIZE = 3
ITEMS = 5  # per producer
MODULE = "procviz.engine.scenarios.queues"


def _split(run: ScenarioRun) -> tuple[list[int], list[int]]:
    roles = run.role_ids
    half = len(roles) // 2
    return roles[:half], roles[half:]


def producer(q: Queue, high: Any, who: int, items: int, work: Work) -> Outcome:
    """Make ``items`` items and put each into the bounded queue (blocking while it is full)."""
    for i in range(items):
        work()
        q.put(who * items + i)
        size = q.qsize()
        with high.get_lock():
            high.value = max(high.value, size)
    return Outcome(f"made {items} items; put() waited {q.blocked_puts}× on a full queue")


def consumer(q: Queue, eaten: Any, work: Work) -> Outcome:
    """Get items until the main program's None, taking twice a producer's time per item."""
    n = 0
    while (item := q.get()) is not None:
        work(2.0)
        eaten[item] += 1  # only this consumer got this item: no lock needed
        n += 1
    return Outcome(f"ate {n} items; get() waited {q.blocked_gets}× on an empty queue")


def main_producer_consumer(run: ScenarioRun) -> Outcome:
    """The tutorial's producer/consumer with a bounded queue; checks conservation and the bound."""
    producers, consumers = _split(run)
    q = Queue(run.mp, MAXSIZE)
    high = run.mp.Value("i", 0)
    eaten = run.mp.RawArray("i", len(producers) * ITEMS)
    roles: dict[int, tuple[str, tuple[Any, ...], str, bool]] = {}
    for k, t in enumerate(producers):
        roles[t] = (f"{MODULE}:producer", (q, high, k, ITEMS, run.work(t)), f"producer {k + 1}", False)
    for k, t in enumerate(consumers):
        roles[t] = (f"{MODULE}:consumer", (q, eaten, run.work(t)), f"consumer {k + 1}", False)
    procs = run.start_roles(roles)
    run.join([procs[t] for t in producers])
    for _ in consumers:
        run.put(q, None)
    run.join([procs[t] for t in consumers])
    counts = list(eaten)
    if any(c != 1 for c in counts):
        raise AssertionError(f"items eaten {sum(counts)} times for {len(counts)} items: {counts}")
    if high.value > MAXSIZE:
        raise AssertionError(f"the Queue({MAXSIZE}) held {high.value} items")
    return Outcome(f"{len(counts)} items made and eaten exactly once; the Queue({MAXSIZE}) never "
                   f"held more than {high.value}")


def jq_producer(q: JoinableQueue, who: int, items: int, work: Work) -> Outcome:
    """Put ``items`` items, then wait in join() until consumers marked them all done."""
    for i in range(items):
        work()
        q.put(f"{who}-{i}")
    q.join()
    return Outcome(f"put {items} items; join() returned when every item was task_done()")


def jq_consumer(q: JoinableQueue, done: Any, work: Work) -> Outcome:
    """Forever: get, work, task_done (a daemon: it ends when the main program ends)."""
    n = 0
    with until_main_ends():
        while True:
            q.get()
            work(2.0)
            with done.get_lock():
                done.value += 1
            q.task_done()
            n += 1
    return Outcome(f"processed {n} items; a daemon, it ended with the main program")


def main_joinable_queue(run: ScenarioRun) -> Outcome:
    """The tutorial's JoinableQueue with daemon consumers; checks every item was processed."""
    producers, consumers = _split(run)
    q = JoinableQueue(run.mp)
    done = run.mp.Value("i", 0)
    roles: dict[int, tuple[str, tuple[Any, ...], str, bool]] = {}
    for k, t in enumerate(producers):
        roles[t] = (f"{MODULE}:jq_producer", (q, k, ITEMS, run.work(t)), f"producer {k + 1}", False)
    for k, t in enumerate(consumers):
        roles[t] = (f"{MODULE}:jq_consumer", (q, done, run.work(t)), f"consumer {k + 1}", True)
    procs = run.start_roles(roles)
    run.join([procs[t] for t in producers])
    total = len(producers) * ITEMS
    if done.value != total:
        raise AssertionError(f"producers' join() returned after {done.value} of {total} items were done")
    return Outcome(f"all {total} items were task_done() before the producers' join() returned; "
                   "the daemon consumers end with the main program")
