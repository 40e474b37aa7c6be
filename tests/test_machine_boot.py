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
    sampler = MachineSampler(every=1, cpus=[0, 1])

    def tick_to(t_ns: int) -> None:
        clock["t"] = t_ns
        sampler.tick(t_ns, worker_cpu_ns=0)

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
    for t in range(0, 300 * MS, 100 * MS):
        tick_to(t)  # rows 0-100, 100-200 ms
    sampler.add_own(-200 * MS, 200 * MS, 400 * MS)  # 400 ms over 400 ms: half of it before the first row
    sampler.close()
    rows = sampler.take()
    assert rows["own"].tolist() == pytest.approx([1.0, 0.5])  # 300 of 400 ms into row one: capped at busy


def test_a_worker_gone_before_its_hello_is_read_still_has_its_boot_counted() -> None:
    """A short scenario role (Value and Array) can be joined and reaped before the engine reads its
    hello: its lane cannot be sampled, but the hello tells what its boot used, and that is the run's
    own (left out, the preset read "other programs used 34-45 %" on an idle machine)."""
    import subprocess
    import sys

    from procviz.engine.sampler import StateSampler

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: nothing of it is left to read
    told: list[tuple[int, int, int]] = []

    class Machine:
        def add_own(self, start_ns: int, end_ns: int, cpu_ns: int) -> None:
            told.append((start_ns, end_ns, cpu_ns))

    sampler = StateSampler(watch_exits=False, machine=False)
    sampler.machine = Machine()  # type: ignore[assignment]
    sampler.add(0, child.pid, child.pid, 300 * MS, baseline=(40 * MS, 0), created_ns=100 * MS)
    assert told == [(100 * MS, 300 * MS, 40 * MS)]
