"""Figures a run or a file cannot give are said to be missing, not shown as numbers.

Found by a user campaign: a CSV (which keeps neither the CPU count nor the machine lane) showed
"On-CPU share 124.5% of 1 CPU" and "Other load 0.0%"; a stopped run with no task done showed a
mean turnaround of 10 minutes (its cancelled tasks' wait for the Stop) and "speedup 0.00x"; a
config file with a JSON syntax error said "is not valid JSON: is not valid JSON: ...".
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import build_timeline

from procviz.engine.config import ConfigError, load_config
from procviz.engine.events import (
    END_DTYPE,
    START_DTYPE,
    SUBMIT_DTYPE,
    EngineBatch,
    LaneInfo,
    RunInfo,
    RunOutcome,
    RunPhase,
    RunStatus,
    TaskState,
)
from procviz.engine.formats import read_timeline, write_timeline
from procviz.engine.metrics import compute_metrics
from procviz.engine.timeline import Timeline

MS = 1_000_000


def _stopped_run() -> Timeline:
    """Two tasks and a Stop 10 minutes in: task 0 was running (cancelled), task 1 never started."""
    tl = Timeline()
    run = RunInfo(n_tasks=2, t0_ns=0, config={"workers": 1, "backend": "thread_pool_executor"}, host="h",
                  cpu_count=2, schedstat=True)
    tl.apply(EngineBatch(run=run, lanes=(LaneInfo(0, 7, 70, "thread", "thread 0"),),
                         submitted=np.array([(0, 0), (1, 0)], dtype=SUBMIT_DTYPE)))
    tl.apply(EngineBatch(started=np.array([(0, 0, 10 * MS)], dtype=START_DTYPE)))
    stop = 600_000 * MS
    tl.apply(EngineBatch(ended=np.array([(0, 0, TaskState.CANCELLED, 10 * MS, stop, -1, -1),
                                         (1, -1, TaskState.CANCELLED, -1, stop, -1, -1)], dtype=END_DTYPE),
                         now_ns=stop))
    return tl


def test_cancelled_tasks_have_no_waiting_or_turnaround_of_their_own() -> None:
    m = compute_metrics(_stopped_run())
    assert (m.done, m.cancelled) == (0, 2)
    assert m.mean_turnaround_ns == 0 and m.mean_wait_ns == 0
    assert m.speedup_text() == "none (no task ran to its end)"
    assert not any("0.00x" in line for line in m.summary_lines())


def test_a_csv_says_its_cpus_and_the_machine_were_not_measured(tmp_path) -> None:
    original = build_timeline(exotic=False)
    assert compute_metrics(original).cpus > 0
    path = tmp_path / "t.csv"
    write_timeline(original, path)
    m = compute_metrics(read_timeline(path))
    assert m.cpus == 0
    assert m.cpu_share_text().startswith("not measured")
    assert m.other_load_summary().startswith("not measured")
    line = next(line for line in m.summary_lines() if line.startswith("slot occupancy"))
    assert "on-CPU not measured" in line and "%" not in line.partition("on-CPU")[2]


@pytest.mark.parametrize("text", ['{"workers": 2,,}', "{", '{"workers": 2} trailing'])
def test_a_config_that_is_not_json_says_so_once(tmp_path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    said = " ".join(str(p) for p in caught.value.problems)
    assert said.count("is not valid JSON") == 1, said


def test_means_over_no_task_are_none_and_bounds_read_as_written() -> None:
    m = compute_metrics(_stopped_run())
    assert m.finished == 0
    assert "mean waiting and turnaround none (no task ran to its end)" in " ".join(m.summary_lines())
    from procviz.engine.config import parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config({"workload": {"kind": "sleep", "duration_ms": 10**9}})
    said = " ".join(str(p) for p in caught.value.problems)
    assert "3,600,000" in said and "e+" not in said, said


def _lost_before_start_run() -> Timeline:
    """Three tasks on one worker: task 0 done (queued 1 ms, 2 ms long), tasks 1 and 2 failed by
    the engine 500 ms in without ever starting (lost with a broken pool)."""
    tl = Timeline()
    run = RunInfo(n_tasks=3, t0_ns=0, config={"workers": 1, "backend": "process_pool_executor"}, host="h",
                  cpu_count=2, schedstat=True)
    tl.apply(EngineBatch(run=run, lanes=(LaneInfo(0, 7, 70, "process", "worker 0"),),
                         submitted=np.array([(0, 0), (1, 0), (2, 0)], dtype=SUBMIT_DTYPE)))
    tl.apply(EngineBatch(started=np.array([(0, 0, 1 * MS)], dtype=START_DTYPE)))
    lost = 500 * MS
    tl.apply(EngineBatch(ended=np.array([(0, 0, TaskState.DONE, 1 * MS, 3 * MS, 2 * MS, 0),
                                         (1, -1, TaskState.FAILED, -1, lost, -1, -1),
                                         (2, -1, TaskState.FAILED, -1, lost, -1, -1)], dtype=END_DTYPE),
                         now_ns=lost))
    return tl


def test_the_two_means_are_over_the_same_tasks() -> None:
    """Mean turnaround took in tasks the engine failed before they started (their end being its
    verdict), mean waiting did not: the two means on one line were over different tasks."""
    m = compute_metrics(_lost_before_start_run())
    assert m.finished == 1
    assert m.mean_wait_ns == 1 * MS
    assert m.mean_turnaround_ns == 3 * MS  # task 0's: submitted at 0, ended at 3 ms


def test_a_run_whose_every_task_failed_has_no_speedup() -> None:
    tl = _lost_before_start_run()
    tl.state[0] = TaskState.FAILED
    tl.apply(EngineBatch(now_ns=600 * MS))  # (a change: the sums are made again)
    m = compute_metrics(tl)
    assert m.done == 0 and not m.has_speedup
    assert m.speedup_text() == "none (no task was done)"
    assert not any("0.0" in line and "speedup" in line for line in m.summary_lines())


def test_a_live_run_before_its_first_machine_rows_says_none_read_yet_not_unmeasured() -> None:
    """The machine lane's rows trail a run (they wait for the boots they span): mid-run, a run
    without them yet read "not measured (no reading of the machine's CPUs)", which it was."""
    tl = Timeline()
    run = RunInfo(n_tasks=1, t0_ns=0, config={"workers": 1}, host="h", cpu_count=2, schedstat=True)
    tl.apply(EngineBatch(run=run, lanes=(LaneInfo(0, 7, 7, "process", "worker 0"),),
                         submitted=np.array([(0, 0)], dtype=SUBMIT_DTYPE),
                         status=RunStatus(RunPhase.RUNNING, "running")))
    assert compute_metrics(tl).other_load_summary() == "none read yet (the machine lane trails the run by 0.6 s)"
    tl.apply(EngineBatch(status=RunStatus(RunPhase.FINISHED, "done", RunOutcome.COMPLETED)))
    assert compute_metrics(tl).other_load_summary().startswith("not measured")


def test_the_own_work_of_tiny_tasks_is_said_in_units_that_show_it() -> None:
    # "0.03× (estimate: own work 0.000 s)" read as a run with no work at all.
    from dataclasses import replace

    from synthetic import synth_timeline

    from procviz.engine.metrics import compute_metrics

    m = compute_metrics(synth_timeline(n_tasks=20, n_lanes=2, seed=1))
    assert m.has_speedup
    assert "own work 20.0 µs" in replace(m, serial_estimate_ns=20_000).speedup_text()
    assert "own work 1.20 ms" in replace(m, serial_estimate_ns=1_200_000).speedup_text()
    assert "serial run 3.912 s" in replace(m, serial_estimate_ns=3_912_000_000, speedup_measured=True).speedup_text()
