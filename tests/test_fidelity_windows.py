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
