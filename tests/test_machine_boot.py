"""The machine lane counts a worker's boot as the run's own CPU, in the windows it was spent in.

A worker tells its CPU so far only in its hello, after its boot (interpreter, imports: 0.1-0.4 s
for spawn). Counted in the window of the hello (and capped there), that CPU read as other
programs' load in the windows before: "other programs used 13 % of 2 CPUs" for the Semaphore
preset on an idle machine. The machine's counters are replaced by a script here: two CPUs fully
busy with nothing but the boot of the run's workers.
"""

from __future__ import annotations

import pytest

from procviz.engine import machine
from procviz.engine.machine import HOLD_NS, MachineSampler, other_load

MS = 1_000_000


@pytest.fixture
def scripted(monkeypatch):
    """A MachineSampler over 2 CPUs whose /proc/stat reads say: every CPU busy all the time."""
    clock = {"t": 0}
    monkeypatch.setattr(machine, "read_busy_ns", lambda cpus: (2 * clock["t"], 2 * clock["t"]))
    monkeypatch.setattr(machine, "_helper_pids", lambda: [])
    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)  # the engine itself: idle
    monkeypatch.setattr(machine, "_reaped_children_cpu_ns", lambda: 0)  # and nothing it reaps
    monkeypatch.setattr(machine, "children_of", lambda pid: [])
    sampler = MachineSampler(every=1, cpus=[0, 1])

    def tick_to(t_ns: int) -> None:
        clock["t"] = t_ns
        sampler.tick(t_ns)

    return sampler, tick_to


def test_a_boot_told_late_is_own_cpu_in_the_windows_it_spanned(scripted) -> None:
    sampler, tick_to = scripted
    for t in range(0, 500 * MS, 100 * MS):
        tick_to(t)
    assert len(sampler.take()) == 0  # held: a boot may still be told
    # Two workers booted from 0 to 400 ms on both CPUs (400 ms of CPU each), told by their hellos at 400 ms.
    sampler.add_own(0, 400 * MS, 400 * MS)
    sampler.add_own(0, 400 * MS, 400 * MS)
    tick_to(500 * MS)
    sampler.close()
    rows = sampler.take()
    assert len(rows) == 5
    assert rows["own"][:4] == pytest.approx(1.0)  # every window before the hellos: the run's own
    mean, peak = other_load(rows)
    assert mean == pytest.approx(0.2)  # the last window (400-500 ms): busy with nothing told
    assert peak == pytest.approx(1.0)


def test_rows_wait_for_boots_then_go(scripted) -> None:
    sampler, tick_to = scripted
    for t in range(0, HOLD_NS + 300 * MS, 100 * MS):
        tick_to(t)
    taken = sampler.take()
    assert len(taken) > 0 and taken["end_ns"].max() <= 300 * MS  # older than the hold: gone
    assert all(row["own"] <= row["busy"] for row in taken)
    sampler.close()
    assert len(sampler.take()) > 0  # closed: the rest goes
    assert len(sampler.take()) == 0


def test_a_boot_begun_before_the_rows_held_goes_into_the_oldest(scripted) -> None:
    sampler, tick_to = scripted
    for t in range(0, 1100 * MS, 100 * MS):
        tick_to(t)
    taken = sampler.take()  # rows older than the hold are gone (sent): 0-400 ms
    assert taken["end_ns"].max() == 400 * MS
    sampler.add_own(200 * MS, 600 * MS, 400 * MS)  # 400 ms over 400 ms: half of it in rows gone
    sampler.close()
    rows = sampler.take()
    # 300 of 400 ms into the oldest row: it holds 200 (its busy time); the rest goes on to the next
    assert rows["own"][:3].tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_own_beyond_a_rows_busy_time_goes_on_to_the_next_rows_not_lost(scripted) -> None:
    """Own and busy are counted in clock ticks by different counters: a row's own can exceed its
    busy time by a tick per process. What is beyond goes on to the next rows, so a run's total is
    kept (cut off, it read as other programs' load in the rows it belonged to)."""
    sampler, tick_to = scripted
    for t in range(0, 600 * MS, 100 * MS):
        tick_to(t)  # five rows, every CPU busy
    sampler.add_own(0, 100 * MS, 300 * MS)  # 300 ms in a row of 200 ms of capacity
    sampler.close()
    rows = sampler.take()
    assert rows["own"].tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0, 0.0])
    assert float((rows["own"] * 2 * 100 * MS).sum()) == pytest.approx(300 * MS)


def test_a_boot_before_the_first_reading_is_left_out_like_its_busy_time(scripted) -> None:
    sampler, tick_to = scripted
    for t in range(0, 300 * MS, 100 * MS):
        tick_to(t)  # rows 0-100, 100-200 ms
    sampler.add_own(-200 * MS, 200 * MS, 400 * MS)  # half of it before the lane's first reading
    sampler.close()
    rows = sampler.take()
    assert rows["own"].tolist() == pytest.approx([0.5, 0.5])


def test_a_worker_gone_before_its_hello_is_read_still_has_its_boot_counted(monkeypatch) -> None:
    """A short scenario role (Value and Array) can be joined and reaped before the engine reads its
    hello or a scan finds it: no reading of it is left, but what it used is in the reaped-children
    figure of the process that reaped it, and that is the run's own (left out, the preset read
    "other programs used 34-45 %" on an idle machine)."""
    import resource
    import subprocess
    import sys
    import time

    monkeypatch.setattr(machine.time, "process_time_ns", lambda: 0)  # the test itself: not counted
    sampler = MachineSampler(every=1)
    if not sampler.available:
        pytest.skip("needs /proc/stat")
    sampler.tick(time.monotonic_ns())
    burn = "import time\nwhile time.process_time() < 0.2:\n    pass\n"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen([sys.executable, "-c", burn])
    child.wait()  # reaped: nothing of it is left to read
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    sampler.tick(time.monotonic_ns())
    sampler.close()
    rows = sampler.take()
    own = float((rows["own"] * (rows["end_ns"] - rows["start_ns"]) * rows["cpus"]).sum()) * 1e-9
    # /proc/stat counts in 10 ms ticks (the row's capacity and busy time): a tick or two of slack
    assert own >= used - 0.03 and used >= 0.2, (own, used)
