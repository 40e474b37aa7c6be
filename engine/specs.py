"""What can run, as data: one :class:`BackendSpec` per backend and one :class:`ScenarioSpec` per scenario.

Config validation (:mod:`procviz.engine.config`), planning (:mod:`procviz.engine.plan`), the
backend registry (:mod:`procviz.engine.registry`) and the GUI's pool form all read these tables;
nothing else lists backends, their APIs, chunking, limits or defaults. Importing this module
imports no backend and no scenario code (a name here is text: ``module:function``), so loading a
config never starts a Manager or touches multiprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

# One task per call: a chunksize has no meaning for these APIs.
CHUNKLESS_APIS = ("apply", "apply_async", "submit")
POOL_APIS = ("map", "map_async", "imap", "imap_unordered", "starmap", "apply", "apply_async")
FUTURES_APIS = ("map", "submit")
# APIs whose default chunksize is the Pool's ceil(n / (4 x workers)).
POOL_MAP_APIS = ("map", "map_async", "starmap")


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """One way of running tasks: its name, what it offers and what it refuses (with the reason).

    A refusal text is the message a config gets for asking what the backend cannot honour; ``""``
    means the option is supported.
    """

    name: str  # the config's ``backend`` value
    label: str  # what the GUI shows
    apis: tuple[str, ...]  # submission APIs it has; the first is the default
    api_refusal: str  # why another API is refused
    chunks: bool  # whether a chunksize applies (tasks travel to workers in chunks)
    chunk_refusal: str = ""
    maxtasks_refusal: str = ""  # why maxtasksperchild is refused ("" = workers can be replaced)
    timeout_refusal: str = ""  # why task_timeout_s is refused ("" = a hung task can be ended)

    def default_chunksize(self, api: str, n_tasks: int, workers: int) -> int:
        """The chunksize the backend's own API would use when none is configured.

        ``Pool.map``'s default is ceil(n / (4 x workers)); ``Executor.map``'s is 1; imap, apply and
        submit send one task per chunk. The engine always passes the value explicitly so that it
        knows the chunk of every task.
        """
        if self.name == "pool" and api in POOL_MAP_APIS:
            size, extra = divmod(n_tasks, workers * 4)
            return max(size + (1 if extra else 0), 1)
        return 1


BACKEND_SPECS: dict[str, BackendSpec] = {
    s.name: s
    for s in (
        BackendSpec(
            "pool", "multiprocessing.Pool", POOL_APIS,
            api_refusal="a Pool submits with apply_async (submit is concurrent.futures)",
            chunks=True,
        ),
        BackendSpec(
            "process_pool_executor", "ProcessPoolExecutor", FUTURES_APIS,
            api_refusal="concurrent.futures offers map and submit",
            chunks=True,
            maxtasks_refusal="ProcessPoolExecutor(max_tasks_per_child=...) can deadlock once more tasks are "
            "queued than the limit allows (CPython gh-115634); use backend pool to replace workers",
        ),
        BackendSpec(
            "thread_pool_executor", "ThreadPoolExecutor", FUTURES_APIS,
            api_refusal="concurrent.futures offers map and submit",
            chunks=False,
            chunk_refusal="ThreadPoolExecutor.map ignores chunksize (threads share memory)",
            maxtasks_refusal="threads are never replaced",
            timeout_refusal="a timeout cannot stop a thread: a hung task would block ThreadPoolExecutor.shutdown "
            "forever; time tasks out on a process backend",
        ),
        BackendSpec(
            "process", "one Process per task", ("map",),
            api_refusal="process has no submission API to choose; use map",
            chunks=False,
            chunk_refusal="process runs tasks one by one, not in chunks",
            maxtasks_refusal="every Process runs exactly one task",
        ),
        BackendSpec(
            "serial", "serial (no pool)", ("map",),
            api_refusal="serial has no submission API to choose; use map",
            chunks=False,
            chunk_refusal="serial runs tasks one by one, not in chunks",
            maxtasks_refusal="the serial worker is never replaced",
        ),
    )
}
BACKENDS = tuple(BACKEND_SPECS)
APIS = tuple(dict.fromkeys(api for spec in BACKEND_SPECS.values() for api in spec.apis))


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """One scenario: its main program and how ``workload.count`` sizes it.

    ``workload.count`` counts every task: the main program (task 0) plus one per role process.
    A scenario runs on the ``process`` backend (one Process per role).
    """

    name: str
    main: str  # "module:function" of the main program, run in the engine's process
    min_count: int
    count_means: str  # how the roles are made from the count, for error messages and docs
    workers_means: str = ""  # what ``workers`` sizes in it ("": nothing; one Process per role)
    workers_label: str = ""  # ... and the form's name for it


SCENARIO_BACKEND = "process"
SCENARIO_SPECS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("queue_producer_consumer", "procviz.engine.scenarios.queues:main_producer_consumer", 3,
                     "the main program plus count-1 processes, half producers and half consumers"),
        ScenarioSpec("joinable_queue", "procviz.engine.scenarios.queues:main_joinable_queue", 3,
                     "the main program plus count-1 processes, half producers and half daemon consumers"),
        ScenarioSpec("pipe_ping_pong", "procviz.engine.scenarios.pipes:main_ping_pong", 3,
                     "the main program plus count-1 processes passing a ball around a ring of Pipes"),
        ScenarioSpec("lock_critical_section", "procviz.engine.scenarios.sync:main_lock", 2,
                     "the main program plus count-1 processes taking turns in a Lock"),
        ScenarioSpec("semaphore", "procviz.engine.scenarios.sync:main_semaphore", 2,
                     "the main program plus count-1 processes, at most `workers` inside at once",
                     "the Semaphore's seats: at most this many processes inside at once", "Seats"),
        ScenarioSpec("event_gate", "procviz.engine.scenarios.sync:main_event_gate", 2,
                     "the main program plus count-1 processes waiting at an Event"),
        ScenarioSpec("manager_counter", "procviz.engine.scenarios.shared:main_manager_counter", 2,
                     "the main program plus count-1 processes each decrementing a Manager dict counter"),
        ScenarioSpec("value_array", "procviz.engine.scenarios.shared:main_value_array", 2,
                     "the main program plus count-1 processes writing a shared Value and Array"),
    )
}
