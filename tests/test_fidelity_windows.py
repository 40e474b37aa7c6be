"""LaneWindows on made-up counter sequences: the invariants, and ready placed where it belongs."""

from __future__ import annotations

import numpy as np

from procviz.engine.lane_windows import LaneWindows

MS = 1_000_000


def run(reads: list[tuple[int, int, int, bool]], **kw: int) -> tuple[LaneWindows, list]:
    """Feed (t, cpu, ready, runnable) reads after a zero baseline at t=0; flush; all windows."""
    lw = LaneWindows(0, 0, 0, **kw)
    out = []
    for t, cpu, ready, runnable in reads:
        out += lw.feed(t, cpu, ready, runnable)
    out += lw.flush()
    return lw, out


def test_a_window_spent_in_the_run_queue_is_ready_once_the_kernel_reports_it() -> None:
    # 0-20 ms on CPU, 20-60 ms in the run queue (reported only at the read after it got the CPU)
    reads = [(20 * MS, 20 * MS, 0, True), (40 * MS, 20 * MS, 0, True), (60 * MS, 20 * MS, 0, True),
             (80 * MS, 40 * MS, 40 * MS, False)]
    _, windows = run(reads)
    by_start = {w.start // MS: w for w in windows}
    assert by_start[20].ready == 20 * MS and by_start[40].ready == 20 * MS  # not "waiting"
    assert by_start[60].cpu == 20 * MS


def test_invariants_on_random_sequences() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        t = cpu = ready = 0
        reads = []
        for _ in range(int(rng.integers(1, 60))):
            dt = int(rng.integers(1, 40)) * MS
            d_cpu = int(rng.integers(0, dt + 1))
            d_ready = int(rng.integers(0, dt - d_cpu + 1)) if rng.random() < 0.5 else int(rng.integers(0, 3 * dt))
            t, cpu, ready = t + dt, cpu + d_cpu, ready + d_ready
            reads.append((t, cpu, ready, bool(rng.random() < 0.7)))
        lw, windows = run(reads)
        starts = [w.start for w in windows]
        assert starts == sorted(starts) and windows[0].start == 0 and windows[-1].end == t
        assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
        assert all(w.cpu >= 0 and w.ready >= 0 and w.cpu + w.ready <= w.end - w.start for w in windows)
        assert sum(w.cpu for w in windows) + lw.unplaced_cpu == cpu
        assert sum(w.ready for w in windows) - lw.credit + lw.unplaced_ready == ready


def test_an_unread_end_continues_the_last_split_or_stays_blocked() -> None:
    lw = LaneWindows(0, 0, 0)
    out = lw.feed(20 * MS, 5 * MS, 15 * MS, True)  # on CPU a quarter of the time, ready the rest
    out += lw.end_unread(40 * MS)
    last = out[-1]
    assert (last.start, last.end) == (20 * MS, 40 * MS) and last.cpu == 5 * MS and last.ready == 15 * MS
    lw = LaneWindows(0, 0, 0)
    out = lw.feed(20 * MS, 5 * MS, 0, False) + lw.end_unread(40 * MS)
    assert out[-1].cpu == 0 and out[-1].ready == 0  # blocked at the last read: blocked since


def _gil_thread_reads(stall_ms: int) -> list[tuple[int, int, int, bool]]:
    """A thread taking turns on the GIL (some CPU, some run queue, blocked the rest; runnable at
    every read), read every 20 ms but once after ``stall_ms`` (the sampler kept off the CPU), and
    last seen blocked (every wait reported by then)."""
    reads, t, cpu, ready = [], 0, 0, 0
    for dt in [20] * 10 + [stall_ms] + [20] * 10:
        t, cpu, ready = t + dt * MS, cpu + dt * MS // 10, ready + dt * MS * 4 // 10
        reads.append((t, cpu, ready, True))
    reads.append((t + 20 * MS, cpu, ready, False))
    return reads


def test_blocked_time_between_two_runnable_reads_is_not_left_as_ready() -> None:
    # A 900 ms window between two runnable reads, with CPU in it: the thread may have blocked in
    # between, and did (the kernel reports 40 % ready). Counted provisionally as ready once it was
    # over the hold time, it stayed ready: 1.0 s of ready where the kernel said 0.46 s.
    reads = _gil_thread_reads(900)
    lw, windows = run(reads)
    assert sum(w.ready for w in windows) == reads[-1][2] and lw.credit == 0
    assert sum(w.cpu for w in windows) == reads[-1][1]


def test_a_starved_thread_is_ready_before_the_kernel_reports_it_and_not_twice() -> None:
    # Runnable and without CPU for 0.8 s (longer than the hold), then on a CPU: shown as ready
    # while it waits, and the kernel's report of that wait pays the credit back.
    reads = [(20 * MS, 20 * MS, 0, True)] + [(t * MS, 20 * MS, 0, True) for t in range(40, 820, 20)]
    lw = LaneWindows(0, 0, 0)
    shown = []
    for read in reads:
        shown += lw.feed(*read)
    assert sum(w.ready for w in shown) > 0 and lw.credit > 0  # shown before the kernel says so
    shown += lw.feed(840 * MS, 30 * MS, 800 * MS, False)  # it ran: the kernel adds the 0.8 s wait
    assert lw.credit == 0 and sum(w.ready for w in shown) == 800 * MS
