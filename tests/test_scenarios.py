"""Every tutorial scenario end to end on real processes: the expected outcome holds and the chart shows
who waited for what (wait spans recorded by the instrumented primitives)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import START_METHODS, leftover_children, run_config

from procviz.engine.config import ConfigError, parse_config
from procviz.engine.events import TaskState
from procviz.engine.runner import Engine, RunResult
from procviz.engine.scenarios.pipes import LAPS
from procviz.engine.specs import SCENARIO_SPECS as SCENARIOS
from procviz.engine.timeline import Timeline
from procviz.engine.worker.clock import SchedstatReader

PRESETS = Path(__file__).resolve().parents[1] / "resources" / "presets"
SIZES = {  # count (main + roles), workers, ms: small and quick
    "queue_producer_consumer": (5, 2, 20),
    "joinable_queue": (5, 2, 20),
    "pipe_ping_pong": (3, 2, 20),
    "lock_critical_section": (4, 2, 60),
    "semaphore": (6, 2, 60),
    "event_gate": (4, 2, 150),
    "manager_counter": (11, 2, 0),
    "value_array": (3, 2, 0),
}


def scenario(name: str, start_method: str = "spawn", **changes: object) -> RunResult:
    """Run one scenario with the small size above."""
    count, workers, ms = SIZES[name]
    data = {"backend": "process", "scenario": name, "workers": workers, "start_method": start_method,
            "workload": {"kind": "sleep", "count": count, "duration_ms": ms}}
    return run_config({**data, **changes}, timeout_s=60)


def spans_by_lane(tl: Timeline, label: str) -> dict[int, list[tuple[int, int]]]:
    """``{lane: [(start, end), ...]}`` of the wait spans called ``label``."""
    out: dict[int, list[tuple[int, int]]] = {}
    for row in tl.spans.data:
        if tl.span_label(int(row["label"])) == label:
            out.setdefault(int(row["lane"]), []).append((int(row["start_ns"]), int(row["end_ns"])))
    return out


def role_lanes(tl: Timeline) -> dict[int, int]:
    """``{task: lane}`` of the role processes (task 0 is the main program)."""
    return {t: int(tl.lane[t]) for t in range(1, tl.n_tasks)}


def test_every_scenario_is_in_the_catalogue_and_sized_here() -> None:
    assert set(SIZES) == set(SCENARIOS)


# fork too: a forked role inherits every descriptor the main program had open (the ping-pong's
# players held their own input's sending end and waited for ever for its EOF).
@pytest.mark.parametrize("start_method", (*START_METHODS, "fork"))
@pytest.mark.parametrize("name", sorted(SIZES))
def test_scenario_holds_the_tutorials_outcome(name: str, start_method: str) -> None:
    result = scenario(name, start_method)
    tl = result.timeline
    assert result.outcome == "completed", (result.message, tl.texts.get(0))
    assert np.all(tl.state == TaskState.DONE)
    main = tl.lanes[tl.lane[0]]
    assert main.kind == "thread" and main.pid == os.getpid() and main.name == "main program"
    assert tl.texts[0].kind == "result" and tl.texts[0].type_name == "Outcome"
    lanes = role_lanes(tl)
    assert len(set(lanes.values())) == tl.n_tasks - 1  # a process per role
    for task, lane in lanes.items():
        info = tl.lanes[lane]
        assert info.kind == "process" and f"task {task}" in info.name
        assert info.created_ns < info.ready_ns <= tl.start_ns[task]
        assert tl.texts[task].kind == "result"
    assert spans_by_lane(tl, "process.join").keys() == {main.index}
    assert not leftover_children()


def test_bounded_queue_makes_producers_wait_and_never_overflows() -> None:
    """Whether a producer finds the queue full depends on scheduling; what holds is that the queue
    never exceeds its bound, every item is eaten once (the main program checks both), and every
    put() that waited is on a producer's lane (or the main program's) and is counted by it."""
    tl = scenario("queue_producer_consumer").timeline
    assert np.all(tl.state == TaskState.DONE), tl.texts.get(0)
    high = re.search(r"exactly once; the Queue\((\d+)\) never held more than (\d+)", tl.texts[0].message)
    assert high is not None, tl.texts[0].message
    assert int(high[2]) <= int(high[1]) == 3
    producers = {int(tl.lane[1]), int(tl.lane[2])}
    put_waits = spans_by_lane(tl, "queue.put")  # put blocks while the queue is full
    assert set(put_waits) <= producers | {int(tl.lane[0])}  # the main program's None may wait too
    for task in (1, 2):
        said = re.search(r"put\(\) waited (\d+)× on a full queue", tl.texts[task].message)
        assert said is not None, tl.texts[task].message
        assert int(said[1]) == len(put_waits.get(int(tl.lane[task]), [])), (said[0], put_waits)


def test_joinable_queue_daemon_consumers_end_with_the_main_program() -> None:
    tl = scenario("joinable_queue").timeline
    joins = spans_by_lane(tl, "queue.join")
    assert set(joins) == {tl.lane[1], tl.lane[2]}  # producers wait in join() for task_done
    main_end = tl.end_ns[0]
    for task in (3, 4):  # consumers: daemons, terminated after the main program ended
        lane = tl.lanes[tl.lane[task]]
        assert "daemon" in lane.name and lane.exit_code == -signal.SIGTERM
        assert lane.exit_ns >= main_end
        assert "ended with the main program" in tl.texts[task].message
    for task in (1, 2):
        assert tl.lanes[tl.lane[task]].exit_code == 0


HIT_MS = 100  # each hit of the ball: a sleep, so it lasts at least this long whatever the load


def assert_turns(waits_a: list[tuple[int, int]], waits_b: list[tuple[int, int]], hit_ns: int) -> None:
    """Two players' recv waits take turns.

    Two waits overlap only at a hand-off: the sender already waits while the receiver, waiting for
    that ball, is still being woken (load stretches this, so its length is not asserted). The
    receiver then hits the ball (at least ``hit_ns``) before sending it back, so the sender's wait
    ends at least a hit after the receiver's. Caught: a wait nested in the other's (both waiting
    for the one ball), ends stamped late or starts early by more than a fraction of a hit, a
    player in two waits at once. The last wait to end is left out of the hand-offs: the last ball
    is not hit back, that wait ends at EOF.
    """
    for waits in (waits_a, waits_b):
        ordered = sorted(waits)
        assert all(e <= s for (_, e), (s, _) in zip(ordered, ordered[1:], strict=False)), ordered
    eof = max(waits_a + waits_b, key=lambda span: span[1])
    for early, late in ((waits_a, waits_b), (waits_b, waits_a)):
        for s1, e1 in early:
            for s2, e2 in late:
                if s1 <= s2 < e1 and (s2, e2) != eof:
                    assert e2 - e1 >= hit_ns, ((s1, e1), (s2, e2), (e2 - e1) / 1e6)


def test_pipe_players_take_turns_waiting_in_recv() -> None:
    # A recv records a wait only when the ball is not there yet: a player that load keeps off the
    # CPU for longer than the other's hit finds the ball waiting, and no span. So how many of the
    # recvs wait depends on the load; what does not: no more waits than recvs (ping receives balls
    # 2, 4, 6 and 8; pong 1, 3, 5, 7 and then EOF), and with 100 ms hits (HIT_MS) each player waits at
    # least once (it would have to be kept off the CPU for 100 ms after each of its sends not to).
    tl = scenario("pipe_ping_pong", workload={"kind": "sleep", "count": 3, "duration_ms": HIT_MS}).timeline
    recv = spans_by_lane(tl, "pipe.recv")
    ping, pong = tl.lane[1], tl.lane[2]
    assert 1 <= len(recv.get(ping, [])) <= LAPS and 1 <= len(recv.get(pong, [])) <= LAPS + 1, recv
    assert_turns(recv[ping], recv[pong], HIT_MS * 1_000_000)
    assert "EOFError" in tl.texts[1].message + tl.texts[2].message


@pytest.mark.parametrize("start_method", START_METHODS)
def test_lock_waits_while_another_holds_it_and_never_two_hold_it(start_method: str) -> None:
    result = scenario("lock_critical_section", start_method)
    tl = result.timeline
    ms = SIZES["lock_critical_section"][2]
    waits = spans_by_lane(tl, "lock.acquire")
    gates = spans_by_lane(tl, "gate.wait")
    assert len(waits) >= 2  # 3 processes released at once: at least 2 must wait for the lock
    # when each role took the lock: the end of its lock wait, else the end of its gate wait
    acquired = {}
    for task, lane in role_lanes(tl).items():
        ends = waits.get(lane) or gates.get(lane) or [(tl.start_ns[task], tl.start_ns[task])]
        acquired[lane] = max(e for _, e in ends)
    held = {lane: (t, t + ms * 1e6) for lane, t in acquired.items()}  # each holds it ms long
    order = sorted(held.values())
    for (_, end), (start, _) in zip(order, order[1:], strict=False):
        assert start >= end - 2e6, "two processes held the lock at once"
    for lane, spans in waits.items():  # each wait overlaps another process holding the lock
        for s, e in spans:
            assert any(h0 < e and h1 > s for other, (h0, h1) in held.items() if other != lane)
    assert "never held by two processes" in tl.texts[0].message


def test_semaphore_lets_n_in_and_the_others_wait() -> None:
    tl = scenario("semaphore").timeline
    assert "at most 2 of 5 inside" in tl.texts[0].message
    assert len(spans_by_lane(tl, "semaphore.acquire")) >= 3  # 5 guests, 2 seats


def test_event_gate_holds_everyone_until_the_main_program_sets_it() -> None:
    tl = scenario("event_gate").timeline
    delay = SIZES["event_gate"][2] * 1e6
    waits = spans_by_lane(tl, "event.wait")
    assert set(waits) == set(role_lanes(tl).values())
    ends = [max(e for _, e in spans) for spans in waits.values()]
    assert max(ends) - min(ends) < 50e6  # all let through at once
    assert all(e - min(s for s, _ in spans) > 0.8 * delay for spans, e in zip(waits.values(), ends, strict=True))


def test_manager_counter_reaches_zero_and_the_server_has_its_own_lane() -> None:
    tl = scenario("manager_counter").timeline
    assert tl.texts[0].message.endswith("became {'count': 0}")
    server = [lane for lane in tl.lanes if lane.name == "Manager server process"]
    assert len(server) == 1 and server[0].exit_code == 0
    calls = spans_by_lane(tl, "manager.dict")
    assert sum(len(v) for v in calls.values()) == SIZES["manager_counter"][0] - 1


@pytest.mark.skipif(not SchedstatReader().available, reason="needs schedstat")
def test_every_role_of_a_few_milliseconds_has_a_state_strip() -> None:
    """A role that lives a few milliseconds is joined (reaped) by the main program before the
    sampler reads it, often before its lane is added: 3 of 4 such lanes had no strip at all. Its
    goodbye now carries its last counters, as a Pool worker's does, and its strip ends at them."""
    # As the preset runs it (forkserver: the fork server reaps the roles), 4 roles.
    tl = scenario("manager_counter", start_method="forkserver",
                  workload={"kind": "sleep", "count": 5, "duration_ms": 0}).timeline
    iv = tl.intervals.data
    roles = set(role_lanes(tl).values())
    assert roles
    for lane in roles:
        mine = iv[iv["lane"] == lane]
        info = tl.lanes[lane]
        assert len(mine), f"role lane {lane} ({info.name}) has no strip"
        assert mine["start_ns"].min() == info.ready_ns  # from its ready time on
        assert (mine["cpu_ns"] + mine["ready_ns"] <= mine["end_ns"] - mine["start_ns"]).all()
        assert mine["cpu_ns"].sum() > 0  # its own CPU, read by itself as it exited


def test_value_array_writes_are_seen_by_the_main_program() -> None:
    tl = scenario("value_array").timeline
    assert "num = 3.1415926" in tl.texts[0].message and "-19]" in tl.texts[0].message


def _first_lane_pid(engine: Engine, prefix: str, within_s: float) -> int:
    """The PID of the first lane whose name starts with ``prefix`` in ``engine``'s batches; the
    test fails (the run stopped) if none comes within ``within_s``."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            batch = engine.events.get(timeout=0.05)
        except queue.Empty:
            continue
        pid = next((lane.pid for lane in batch.lanes if lane.name.startswith(prefix)), 0)
        if pid:
            return pid
    engine.stop()  # (a PID of 0 to os.kill would kill this test's whole process group)
    pytest.fail(f"no lane {prefix!r}... announced itself within {within_s:g} s")


def test_a_role_that_dies_ends_the_scenario_with_the_reason() -> None:
    engine = Engine()
    engine.start(parse_config({"backend": "process", "scenario": "event_gate", "workers": 2,
                               "workload": {"kind": "sleep", "count": 4, "duration_ms": 20_000}}))
    victim = _first_lane_pid(engine, "waiter 1", 20)
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    result = engine.join(15)
    if result is None:
        engine.stop()
    assert result is not None and result.outcome == "failed"
    tl = result.timeline
    assert tl.state[0] == TaskState.FAILED and f"(pid {victim}) killed by SIGKILL" in tl.texts[0].message
    assert np.all(tl.state >= TaskState.DONE)
    assert not leftover_children()


def test_a_main_program_that_gives_up_names_why_and_cancels_the_roles_it_ended_unready() -> None:
    """A role killed while the others still boot: the main program gives up and ends them. The
    ones ended before they were ready are no start-up failure (the run's outcome said "workers keep
    exiting before they are ready" and failed two dozen tasks under it); the outcome names the
    main program's reason, tasks that never began are cancelled, and every failed task says why
    (a role SIGTERMed between its failed task's row and its text left "(no reason recorded)")."""
    engine = Engine()
    engine.start(parse_config({"backend": "process", "scenario": "manager_counter", "workers": 2,
                               "start_method": "spawn",
                               "workload": {"kind": "sleep", "count": 41, "duration_ms": 3000}}))
    victim = _first_lane_pid(engine, "process ", 30)
    os.kill(victim, signal.SIGKILL)
    result = engine.join(60)
    if result is None:
        engine.stop()
    assert result is not None and result.outcome == "failed", result and result.message
    assert "the main program failed (ScenarioAborted: process " in result.message, result.message
    assert f"(pid {victim}) killed by SIGKILL)" in result.message, result.message
    tl = result.timeline
    assert np.all(tl.state >= TaskState.DONE)
    kinds = Counter(tl.texts[t].type_name for t in np.flatnonzero(tl.state != TaskState.DONE).tolist()
                    if t in tl.texts)
    assert "WorkerStartFailed" not in kinds, kinds
    failed = np.flatnonzero(tl.state == TaskState.FAILED).tolist()
    assert all(t in tl.texts and tl.texts[t].kind == "error" for t in failed), [t for t in failed if t not in tl.texts]
    never = np.flatnonzero(tl.start_ns < 0).tolist()
    assert all(tl.state[t] == TaskState.CANCELLED and tl.texts[t].type_name == "NotStarted" for t in never), never
    assert not leftover_children()


def test_stop_ends_a_scenario_quickly() -> None:
    engine = Engine()
    engine.start(parse_config({"backend": "process", "scenario": "event_gate", "workers": 2,
                               "workload": {"kind": "sleep", "count": 3, "duration_ms": 20_000}}))
    time.sleep(1.0)
    t0 = time.monotonic()
    engine.stop(10.0)
    assert time.monotonic() - t0 < 5
    result = engine.join(0)
    assert result is not None and result.outcome == "stopped"
    assert not leftover_children()


@pytest.mark.parametrize(("changes", "field"), [
    ({"scenario": "no_such_thing"}, "scenario"),
    ({"scenario": "manager_counter", "backend": "pool"}, "backend"),
    ({"scenario": "manager_counter", "task_timeout_s": 1.0}, "task_timeout_s"),
    ({"scenario": "pipe_ping_pong", "workload": {"count": 2}}, "workload.count"),
    ({"scenario": "lock_critical_section", "workload": {"kind": "function", "function": "math:sqrt"}},
     "workload.kind"),
])
def test_bad_scenario_configs_are_refused(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"backend": "process", **changes})
    assert field in {p.field for p in info.value.problems}, info.value.problems


def test_presets_cover_every_scenario_and_backend_and_are_valid() -> None:
    scenarios, backends = Counter(), Counter()
    for path in sorted(PRESETS.glob("*.json")):
        if not path.name.startswith(("scenario_", "backend_")):
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["name"] and data["description"], path.name
        config = parse_config(data["config"])
        if config.scenario:
            scenarios[config.scenario] += 1
        else:
            backends[config.backend] += 1
    assert set(scenarios) == set(SCENARIOS)
    assert set(backends) >= {"process_pool_executor", "thread_pool_executor", "process", "serial"}
