"""The scenario catalogue: names, sizes and where each main program lives (import-light on purpose).

``engine.config`` validates a config's ``scenario`` against this table without importing any
scenario code, so loading a config never starts a Manager or touches multiprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """One scenario: its main program and how ``workload.count`` sizes it.

    ``workload.count`` counts every task: the main program (task 0) plus one per role process.
    """

    name: str
    main: str  # "module:function" of the main program, run in the engine's process
    min_count: int
    count_means: str  # how the roles are made from the count, for error messages and docs


SCENARIOS: dict[str, ScenarioInfo] = {
    s.name: s
    for s in (
        ScenarioInfo("queue_producer_consumer", "procviz.engine.scenarios.queues:main_producer_consumer", 3,
                     "the main program plus count-1 processes, half producers and half consumers"),
        ScenarioInfo("joinable_queue", "procviz.engine.scenarios.queues:main_joinable_queue", 3,
                     "the main program plus count-1 processes, half producers and half daemon consumers"),
        ScenarioInfo("pipe_ping_pong", "procviz.engine.scenarios.pipes:main_ping_pong", 3,
                     "the main program plus count-1 processes passing a ball around a ring of Pipes"),
        ScenarioInfo("lock_critical_section", "procviz.engine.scenarios.sync:main_lock", 2,
                     "the main program plus count-1 processes taking turns in a Lock"),
        ScenarioInfo("semaphore", "procviz.engine.scenarios.sync:main_semaphore", 2,
                     "the main program plus count-1 processes, at most `workers` inside at once"),
        ScenarioInfo("event_gate", "procviz.engine.scenarios.sync:main_event_gate", 2,
                     "the main program plus count-1 processes waiting at an Event"),
        ScenarioInfo("manager_counter", "procviz.engine.scenarios.shared:main_manager_counter", 2,
                     "the main program plus count-1 processes each decrementing a Manager dict counter"),
        ScenarioInfo("value_array", "procviz.engine.scenarios.shared:main_value_array", 2,
                     "the main program plus count-1 processes writing a shared Value and Array"),
    )
}
SCENARIO_NAMES = tuple(SCENARIOS)
