"""The machine lane counts every process and thread of the run as its own, not only the lane threads.

A lane is one thread of one process: its counters leave out the process's other threads (a
Manager's server answers each client on a thread of its own, a task may start threads) and the
processes of the run that are no lane (a task's subprocess). Left out, their CPU read as other
programs' load: the Manager counter preset said "other programs used 16-18 % of 2 CPUs" on an idle
machine. These runs are real: a task burns CPU in a thread of its worker and in a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from engine_helpers import run_config

from procviz.engine import machine
from procviz.engine.machine import MachineSampler, read_busy_ns
from procviz.engine.machine_seed import take_seed

BURN_S = 0.4  # CPU seconds each of the two burns uses
TASK_MODULE = f'''
import subprocess, sys, threading, time

BURN = {BURN_S}
CHILD = "import time\\nwhile time.process_time() < %r:\\n    pass\\ntime.sleep(2.5)\\n" % BURN


def _burn():
    t0 = time.thread_time()
    while time.thread_time() - t0 < BURN:
        pass


def burn_beside(_: int) -> None:
    """Burn CPU in a second thread of this worker, then in a subprocess that outlives a tree scan."""
    thread = threading.Thread(target=_burn)
    thread.start()
    thread.join()
    subprocess.run([sys.executable, "-c", CHILD], check=True)
'''

pytestmark = pytest.mark.skipif(read_busy_ns([0]) is None, reason="needs /proc/stat")


def _own_cpu_s(rows: np.ndarray) -> float:
    capacity = (rows["end_ns"] - rows["start_ns"]) * rows["cpus"].astype(np.float64) * 1e-9
    return float((rows["own"] * capacity).sum())


def test_a_workers_other_threads_and_its_subprocess_are_the_runs_own(tmp_path, monkeypatch) -> None:
    (tmp_path / "procviz_burnbeside.py").write_text(TASK_MODULE)
    monkeypatch.chdir(tmp_path)
    result = run_config({"workers": 1, "api": "map", "chunksize": 1, "start_method": "spawn",
                         "workload": {"kind": "function", "function": "procviz_burnbeside:burn_beside",
                                      "args": [[0]]}})
    assert result.timeline.n_tasks == 1
    rows = result.timeline.machine.data
    # The worker's main thread only waits (join, then the subprocess): the two burns are the
    # run's own CPU all the same. Counted by lane threads only, own was the engine, the helpers
    # and the boot (~0.2-0.4 s).
    assert _own_cpu_s(rows) >= 2 * BURN_S * 0.9, _own_cpu_s(rows)
    assert np.all(rows["own"] <= rows["busy"] + 1e-9)


# A process that burns BURN_S of CPU, then sleeps
BURNER = f"import time\nwhile time.process_time() < {BURN_S}:\n    pass\ntime.sleep(30)\n"


@contextmanager
def burning() -> Iterator[subprocess.Popen[bytes]]:
    """A BURNER child of this process, killed and reaped at the end."""
    proc = subprocess.Popen([sys.executable, "-c", BURNER])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def child():
    """A BURNER started before the test: one of the run's processes."""
    with burning() as proc:
        yield proc


def _start_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    return int(raw[raw.rfind(b")") + 2:].split()[19])


def _cpu_ns(pid: int) -> int:
    read = machine._process_cpu_ns(pid)  # noqa: SLF001
    assert read is not None
    return read[1]


def _burnt(proc: subprocess.Popen) -> None:
    while _cpu_ns(proc.pid) < BURN_S * 1e9 * 0.95:
        time.sleep(0.05)
    time.sleep(0.1)


@pytest.fixture
def quiet(monkeypatch):
    """This test process's own CPU and what it reaps are not counted: only the tracked child."""
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    monkeypatch.setattr(machine, "_reaped_children_cpu_ns", lambda: 0)


def test_a_process_found_mid_run_counts_before_and_after_it_was_found(quiet, monkeypatch) -> None:
    monkeypatch.setattr(machine, "children_of", lambda pid: [])  # started "during the run"
    sampler = MachineSampler(every=1)
    created = time.monotonic_ns()
    sampler.tick(created)
    with burning() as proc:
        time.sleep(0.15)
        sampler.tick(time.monotonic_ns())
        sampler.track(proc.pid, time.monotonic_ns(), _start_ticks(proc.pid))  # found mid-burn
        _burnt(proc)
        sampler.tick(time.monotonic_ns())
        used = _cpu_ns(proc.pid) * 1e-9
    sampler.close()
    # All it used is own: what it used before it was found, spread back over its life, and after.
    assert _own_cpu_s(sampler.take()) == pytest.approx(used, abs=0.05)


def _zombie_state(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    return raw[raw.rfind(b")") + 2:].startswith(b"Z")


def test_a_child_older_than_the_run_is_the_runs_from_the_first_reading_once_a_scan_finds_it(monkeypatch) -> None:
    """A child this process has when a run starts is the run's once its tree scans find it (a
    Pool the CLI started before the engine), counted from the machine lane's first reading: what
    came before is outside every row, as the busy time it was part of is. An earlier run's zombie
    reaped during the run adds nothing (its CPU enters the reaped-children figure as its reading
    leaves the sum)."""
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    zombie = subprocess.Popen([sys.executable, "-c", "import time\nwhile time.process_time() < 0.3:\n    pass\n"])
    live = None
    try:
        while not _zombie_state(zombie.pid):
            time.sleep(0.02)  # exited, not reaped
        live = subprocess.Popen([sys.executable, "-c", BURNER])
        while _cpu_ns(live.pid) < 0.1e9:
            time.sleep(0.01)
        sampler = MachineSampler(every=1)
        at_start = _cpu_ns(live.pid)
        sampler.tick(time.monotonic_ns())
        sampler.track(live.pid, time.monotonic_ns())  # the first scan finds the run's workers
        zombie.wait()
        _burnt(live)
        sampler.tick(time.monotonic_ns())
        grown = (_cpu_ns(live.pid) - at_start) * 1e-9
    finally:
        zombie.wait()
        if live is not None:
            live.kill()
            live.wait()
    sampler.close()
    assert grown > 0.1
    assert _own_cpu_s(sampler.take()) == pytest.approx(grown, abs=0.05)


def test_a_child_older_than_the_run_that_no_scan_finds_is_other_load(child, monkeypatch) -> None:
    """A process this process started before the run, and that is not the run's (a CPU hog a test
    started, a program the window's user opened), is other programs' load however it burns."""
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    sampler = MachineSampler(every=1)
    sampler.tick(time.monotonic_ns())
    _burnt(child)
    sampler.tick(time.monotonic_ns())
    sampler.close()
    assert _own_cpu_s(sampler.take()) < 0.02


def test_a_helper_also_found_by_a_scan_is_counted_once(quiet, child, monkeypatch) -> None:
    monkeypatch.setattr(machine, "children_of", lambda pid: [])
    monkeypatch.setattr(machine, "_helper_pids", lambda: [child.pid])  # a resource tracker, say
    sampler = MachineSampler(every=1)
    sampler.tick(time.monotonic_ns())
    sampler.track(child.pid, time.monotonic_ns())  # a scan caught it between its fork and exec
    _burnt(child)
    sampler.tick(time.monotonic_ns())
    sampler.close()
    assert _own_cpu_s(sampler.take()) <= _cpu_ns(child.pid) * 1e-9 + 0.02


def test_a_lane_tracks_its_whole_process() -> None:
    """A lane's counters are its thread's; the machine lane counts its whole process."""
    from procviz.engine.sampler import StateSampler

    tracked: list[int] = []

    class Machine:
        def track(self, pid: int, now_ns: int, start: int = -1) -> None:
            tracked.append(pid)

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    sampler = StateSampler(watch_exits=False, machine=False)
    sampler.machine = Machine()  # type: ignore[assignment]
    sampler.add(0, gone.pid, gone.pid, 300_000_000, baseline=(40_000_000, 0))
    assert tracked == [gone.pid]


@pytest.mark.skipif(not machine.CHILDREN_LISTED, reason="this kernel keeps no children lists")
def test_a_child_born_during_the_run_is_read_from_the_next_tick(monkeypatch) -> None:
    """A process this process starts during the run (a role, a worker) is read live from the
    machine lane's next tick, so its boot lands in the windows it was spent in, not spread over
    its life as if it had burnt evenly."""
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    sampler = MachineSampler(every=1)
    sampler.tick(time.monotonic_ns())
    with burning() as proc:
        sampler.tick(time.monotonic_ns())
        assert proc.pid in sampler._tracked  # noqa: SLF001 - found at once, no scan needed
        _burnt(proc)
        sampler.tick(time.monotonic_ns())
        used = _cpu_ns(proc.pid) * 1e-9
    sampler.close()
    assert _own_cpu_s(sampler.take()) == pytest.approx(used, abs=0.05)


@pytest.mark.skipif(not machine.CHILDREN_LISTED, reason="this kernel keeps no children lists")
def test_an_older_orphan_handed_to_this_process_is_not_the_runs(tmp_path, monkeypatch) -> None:
    """procviz's process is the subreaper of what its runs start: an orphan of an earlier run's
    process is handed to it mid-run, a new child, but older than the run; its CPU is not the run's."""
    from procviz.engine.proctree import become_subreaper

    if not become_subreaper():
        pytest.skip("no child subreaper here")
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    pid_file = tmp_path / "orphan"
    parent_code = ("import subprocess, sys, time\n"
                   f"p = subprocess.Popen([sys.executable, '-c', {BURNER!r}])\n"
                   f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
                   "time.sleep(0.4)\n")  # then it exits: its child is orphaned, handed to us
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    orphan = 0
    try:
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.01)
        orphan = int(pid_file.read_text())
        time.sleep(0.02)  # born before the run, by at least a clock tick
        sampler = MachineSampler(every=1)
        sampler.tick(time.monotonic_ns())
        parent.wait()
        while b") S " not in open(f"/proc/{orphan}/stat", "rb").read() or _cpu_ns(orphan) < BURN_S * 1e9 * 0.95:
            sampler.tick(time.monotonic_ns())
            time.sleep(0.05)
        sampler.tick(time.monotonic_ns())
        assert orphan in sampler._tracked and not sampler._tracked[orphan].mine  # noqa: SLF001 - seen, not the run's
    finally:
        parent.wait()
        if orphan:
            os.kill(orphan, 9)
            os.waitpid(orphan, 0)
    sampler.close()
    assert _own_cpu_s(sampler.take()) < 0.1


def test_with_the_runs_start_read_the_lane_starts_there_and_a_child_born_since_is_own_whole(quiet) -> None:
    """The sampler exists only once the engine does (0.3-1.4 s into a ``procviz run``): its first
    reading began the lane, so the boot (the workers', the parent's imports) was in no row, and a
    Pool begun before the engine (the head start) was counted from that reading only. With the
    counters read at the run's start (a seed) the lane starts there and a child born since is
    the run's from its birth."""
    seed = take_seed()
    assert seed is not None
    seed = dataclasses.replace(seed, process_ns=0, reaped_ns=0)  # (as quiet has them)
    with burning() as proc:
        while _cpu_ns(proc.pid) < 0.15e9:
            time.sleep(0.01)  # a worker booting before the engine exists
        sampler = MachineSampler(every=1, seed=seed)  # (the child is this process's: found at once)
        _burnt(proc)
        sampler.tick(time.monotonic_ns())
        used = _cpu_ns(proc.pid) * 1e-9
    sampler.close()
    rows = sampler.take()
    assert rows["start_ns"][0] == seed.t_ns
    assert _own_cpu_s(rows) == pytest.approx(used, abs=0.05)


def test_a_procviz_run_has_its_machine_lane_from_its_start(tmp_path) -> None:
    out = tmp_path / "t.json"
    for args in (["--workers", "2", "--kind", "cpu", "--count", "6", "--duration-ms", "5"],  # a head start
                 ["--backend", "process", "--workers", "2", "--kind", "cpu", "--count", "4", "--duration-ms", "5"]):
        proc = subprocess.run([sys.executable, "-m", "procviz.engine.cli", "run", "--quiet", *args, "--out", str(out)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(out.read_text())
        starts = doc["machine"]["start_ns"]
        assert starts and starts[0] == doc["run"]["t0_ns"], args


def test_a_helper_started_just_before_the_runs_start_counts_from_it(quiet, monkeypatch) -> None:
    """The command line starts the resource tracker a few ms before its run's start: booting after
    it, the tracker's CPU was in the busy time and not in own (other programs' load), as the
    sampler read it first only once the engine existed."""
    with burning() as proc:
        monkeypatch.setattr(machine, "_helper_pids", lambda: [proc.pid])
        while _cpu_ns(proc.pid) < 0.05e9:
            time.sleep(0.005)
        seed = take_seed()
        assert seed is not None and any(pid == proc.pid for pid, _, _ in seed.children)
        seed = dataclasses.replace(seed, process_ns=0, reaped_ns=0)  # (as quiet has them)
        at_seed = _cpu_ns(proc.pid)
        time.sleep(0.15)  # it boots on before the engine exists
        sampler = MachineSampler(every=1, seed=seed)
        _burnt(proc)
        sampler.tick(time.monotonic_ns())
        since = (_cpu_ns(proc.pid) - at_seed) * 1e-9
    sampler.close()
    assert since > 0.1
    assert _own_cpu_s(sampler.take()) == pytest.approx(since, abs=0.05)


def test_an_older_child_reaped_before_the_sampler_exists_adds_only_what_it_used_since_the_start(monkeypatch) -> None:
    """An earlier run's child, exited before the run's start and reaped after it (a Process.start()
    reaps what it finds): its whole life entered the reaped figure as the run's own CPU."""
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)
    old = subprocess.Popen([sys.executable, "-c", "import time\nwhile time.process_time() < 0.3:\n    pass\n"])
    while not _zombie_state(old.pid):
        time.sleep(0.02)
    seed = take_seed()
    assert seed is not None
    seed = dataclasses.replace(seed, process_ns=0)
    old.wait()  # reaped after the run's start, before the engine's sampler exists
    sampler = MachineSampler(every=1, seed=seed)
    time.sleep(0.05)
    sampler.tick(time.monotonic_ns())
    # (What the rows say of it is capped at the CPUs' busy time, the rest carried into later rows,
    # where it hid other programs' load: the sum since the start is the figure that tells.)
    assert sampler._own_ns() - seed.process_ns < 0.05e9  # noqa: SLF001
