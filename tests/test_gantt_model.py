"""The chart's numpy core: lane series, culling, pixel merging, incremental sync (no Qt)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synthetic import MS, T0, synth_batches, synth_timeline

from procviz.engine.events import END_DTYPE, START_DTYPE, EngineBatch, TaskState, WorkerState
from procviz.engine.timeline import Timeline
from procviz.gui.gantt.lod import LaneMerger, merge_lanes
from procviz.gui.gantt.merge import DOMINANT, MAX, merge_lane
from procviz.gui.gantt.model import RANK_OF_STATE, RANK_STATES, GanttModel
from procviz.gui.gantt.series import LaneSeries


def series_of(x0, x1, rank=None, key=None, group=None) -> LaneSeries:
    s = LaneSeries()
    x0 = np.asarray(x0, float)
    s.extend(x0, np.asarray(x1, float), np.zeros(len(x0), np.uint8) if rank is None else np.asarray(rank, np.uint8),
             np.arange(len(x0)) if key is None else np.asarray(key), group)
    return s


def columns(x0, x1, vx0, px, ncols, min_px: bool = True) -> set[int]:
    """Pixel columns of the view touched by [x0, x1), each drawn at least a pixel wide if ``min_px``."""
    out: set[int] = set()
    x0 = np.asarray(x0, float)
    ends = np.maximum(x1, x0 + px) if min_px else np.asarray(x1, float)
    for a, b in zip(x0, ends, strict=True):
        c0 = int(np.floor((a - vx0) / px + 1e-9))
        c1 = int(np.ceil((b - vx0) / px - 1e-9))
        out.update(range(max(c0, 0), min(max(c1, c0 + 1), ncols)))
    return out


def same_pixels(merged, x0, x1, vx0, px, ncols) -> bool:
    """Merged rectangles touch every column the bars touch, and none the bars (a pixel wide) do not."""
    got = columns(merged.x0, merged.x1, vx0, px, ncols, min_px=False)
    return columns(x0, x1, vx0, px, ncols, min_px=False) <= got <= columns(x0, x1, vx0, px, ncols)


# ---- series ------------------------------------------------------------------------------------


def test_series_keeps_starts_sorted_when_rows_arrive_out_of_order():
    s = series_of([5.0, 1.0, 3.0], [6.0, 2.0, 4.0], key=[50, 10, 30])
    s.extend(np.array([2.0, 0.5]), np.array([2.5, 0.8]), np.zeros(2, np.uint8), np.array([20, 5]))
    assert list(s.x0) == [0.5, 1.0, 2.0, 3.0, 5.0]
    assert list(s.key) == [5, 10, 20, 30, 50]
    assert list(s.xmax) == [0.8, 2.0, 2.5, 4.0, 6.0]


def test_series_running_max_of_ends_covers_a_long_earlier_segment():
    s = series_of([0.0, 1.0, 2.0], [10.0, 1.5, 2.5])
    lo, hi = s.span(5.0, 6.0)
    assert (lo, hi) == (0, 3)  # the long first segment reaches into (5, 6)


def test_series_shade_flips_per_group_along_the_lane():
    s = series_of([0, 1, 2, 3, 4], [0.5, 1.5, 2.5, 3.5, 4.5], group=np.array([7, 7, 9, 9, 9]))
    s.extend(np.array([5.0]), np.array([5.5]), np.zeros(1, np.uint8), np.array([99]), np.array([11]))
    assert list(s.shade) == [0, 0, 1, 1, 1, 0]


def test_merged_bars_of_one_chunk_keep_its_shade():
    """Chunks many pixels wide of tasks narrower than a pixel: merged, every bar was drawn in the
    first chunk's shade, so a PNG of 10 chunks a lane was one dark blue with the legend's "done,
    next chunk" nowhere; a column that spans two chunks keeps no shade."""
    n = 1000
    x0 = np.arange(n) * 0.001  # 1 ms tasks, 100 to a chunk of 0.1 s
    s = series_of(x0, x0 + 0.0009, group=np.arange(n) // 100)
    r = merge_lane(s, 0, 0.0, 1.0, px=0.01)  # a pixel is 10 tasks
    assert len(r.x0) >= 10 and (r.key == -1).all()
    for chunk in range(10):
        mid = chunk * 0.1 + 0.05
        over = (r.x0 <= mid) & (r.x1 >= mid)
        assert over.any() and (r.shade[over] == chunk % 2).all(), (chunk, r.shade[over])


def test_series_locate_and_update_fix_the_running_max():
    s = series_of([0.0, 1.0, 2.0], [0.5, 1.5, 2.5], key=[3, 4, 5])
    pos = s.locate(np.array([2.0, 1.0, 9.0]), np.array([5, 4, 1]))
    assert list(pos) == [2, 1, -1]
    s.update(np.array([1]), x1=np.array([9.0]))
    assert list(s.xmax) == [0.5, 9.0, 9.0]
    s.update(np.array([1]), x1=np.array([1.5]))
    assert list(s.xmax) == [0.5, 1.5, 2.5]


# ---- culling and merging -----------------------------------------------------------------------


def test_culling_returns_only_segments_in_the_x_range():
    x0 = np.arange(100, dtype=float)
    s = series_of(x0, x0 + 0.5)
    r = merge_lane(s, 0, 10.2, 20.0, px=0.01)
    assert sorted(r.key) == list(range(10, 20))  # 10 ends at 10.5 > 10.2; 20 starts at the edge
    assert np.all(r.x1 > 10.2) and np.all(r.x0 < 20.0)


def test_zoomed_in_every_bar_is_its_own_rectangle():
    x0 = np.arange(50, dtype=float)
    s = series_of(x0, x0 + 0.6)
    r = merge_lane(s, 3, 0.0, 50.0, px=0.05)  # each bar is 12 px wide
    assert len(r) == 50
    assert list(r.key) == list(range(50))
    assert np.all(r.lane == 3)


def test_merging_many_tiny_bars_reduces_rects_and_covers_the_same_pixels():
    rng = np.random.default_rng(1)
    dur = rng.exponential(1.0, 20_000)
    gap = rng.exponential(0.1, 20_000)
    x0 = np.cumsum(dur + gap) - dur
    x1 = x0 + dur
    s = series_of(x0, x1, rank=np.where(rng.random(20_000) < 0.01, 4, 0))
    vx0, vx1 = float(x0[0]), float(x1[-1])
    px = (vx1 - vx0) / 800
    r = merge_lane(s, 0, vx0, vx1, px)
    assert len(r) < 800  # 20,000 bars -> at most a rectangle per pixel column (and coalesced)
    assert same_pixels(r, x0, x1, vx0, px, 800)


def test_wide_bars_keep_identity_next_to_merged_slivers():
    # 100 slivers of 0.001 then one bar 5 px wide, all starting in the first pixel column.
    x0 = np.concatenate([np.arange(100) * 0.002, [0.5]])
    x1 = np.concatenate([x0[:100] + 0.001, [5.5]])
    s = series_of(x0, x1, rank=np.r_[np.zeros(100), [4]])
    r = merge_lane(s, 0, 0.0, 10.0, px=1.0)
    assert 100 in list(r.key)  # the wide bar is drawn on its own...
    wide = list(r.key).index(100)
    assert r.code[wide] == 4 and r.x1[wide] == 5.5
    assert any(k == -1 for k in r.key)  # ...and the slivers as one merged rectangle


def test_max_merge_keeps_a_single_failure_visible():
    x0 = np.arange(10_000) * 1e-3
    rank = np.zeros(10_000, np.uint8)
    rank[1234] = RANK_OF_STATE[TaskState.FAILED]
    s = series_of(x0, x0 + 5e-4, rank=rank)
    r = merge_lane(s, 0, 0.0, 10.0, px=0.05, mode=MAX)
    hit = r.code == RANK_OF_STATE[TaskState.FAILED]
    assert hit.sum() == 1
    assert r.x0[hit][0] <= 1.234 < r.x1[hit][0]


def test_dominant_merge_picks_the_state_holding_most_time():
    # In each 1-second column: 0.8 s waiting then 0.1 s ready, 0.1 s running.
    starts, ends, codes = [], [], []
    for c in range(10):
        for a, b, code in ((0.0, 0.8, WorkerState.WAITING), (0.8, 0.9, WorkerState.READY),
                           (0.9, 1.0, WorkerState.RUNNING)):
            starts.append(c + a)
            ends.append(c + b)
            codes.append(code)
    s = series_of(starts, ends, rank=codes)
    dom = merge_lane(s, 0, 0.0, 10.0, px=1.0, mode=DOMINANT)
    assert set(dom.code) == {WorkerState.WAITING}
    top = merge_lane(s, 0, 0.0, 10.0, px=1.0, mode=MAX)
    assert set(top.code) == {WorkerState.WAITING}  # max of the codes is WAITING (3) too
    assert len(dom) == 1  # touching same-state columns coalesce into one rectangle


def test_merge_rejects_a_degenerate_view():
    s = series_of([0.0], [1.0])
    with pytest.raises(ValueError):
        merge_lane(s, 0, 1.0, 1.0, px=0.1)
    with pytest.raises(ValueError):
        merge_lane(s, 0, 0.0, 1.0, px=0.0)


# ---- the model over a real Timeline ------------------------------------------------------------


def test_model_has_a_series_per_lane_with_every_started_task():
    tl = synth_timeline(n_tasks=300, n_lanes=5, unstarted_cancelled=(7, 8))
    m = GanttModel(tl)
    m.sync()
    assert m.lane_count == 5
    assert sum(len(s) for s in m.tasks) == 298
    for k, s in enumerate(m.tasks):
        assert set(s.key) == set(np.flatnonzero(tl.lane == k)) - {7, 8}
        assert np.all(np.diff(s.x0) >= 0)


def test_incremental_sync_equals_a_rebuild():
    tl = Timeline()
    m = GanttModel(tl)
    kw = dict(n_tasks=400, n_lanes=3, chunksize=4, failed=(11,), timeout=(40,), running=3, spans=4)
    for batch in synth_batches(batches=9, **kw):
        tl.apply(batch)
        m.sync()
    fresh = GanttModel(tl)
    fresh.sync()
    for a, b in zip(m.tasks + m.intervals + m.spans, fresh.tasks + fresh.intervals + fresh.spans, strict=True):
        for col in ("x0", "x1", "xmax", "rank", "shade", "key"):
            assert np.array_equal(getattr(a, col), getattr(b, col)), col


def test_sync_is_a_no_op_when_nothing_changed_and_bumps_version_when_something_did():
    tl = synth_timeline(n_tasks=50, n_lanes=2)
    m = GanttModel(tl)
    assert m.sync()
    v = m.version
    assert not m.sync()
    assert m.version == v
    tl.apply(EngineBatch(now_ns=tl.now_ns + MS))
    assert m.sync()
    assert m.version == v + 1


def test_running_bar_stretches_to_the_live_edge_then_takes_its_end():
    tl = synth_timeline(n_tasks=20, n_lanes=2, running=1)
    m = GanttModel(tl)
    m.sync()
    tid = int(np.flatnonzero(tl.state == TaskState.RUNNING)[0])
    lane = int(tl.lane[tid])
    pos = list(m.tasks[lane].key).index(tid)
    assert m.tasks[lane].x1[pos] == pytest.approx(m.now_x)
    later = tl.now_ns + 50 * MS
    tl.apply(EngineBatch(now_ns=later))
    m.sync()
    assert m.tasks[lane].x1[pos] == pytest.approx((later - T0) * 1e-9)
    end = np.zeros(1, END_DTYPE)
    end[0] = (tid, lane, TaskState.FAILED, tl.start_ns[tid], later - 10 * MS, 1, 1)
    tl.apply(EngineBatch(ended=end, now_ns=later + MS))
    m.sync()
    assert m.tasks[lane].x1[pos] == pytest.approx((later - 10 * MS - T0) * 1e-9)
    assert RANK_STATES[m.tasks[lane].rank[pos]] == TaskState.FAILED
    assert not m.live


def test_lifecycle_draws_new_and_terminated_from_lane_records():
    tl = synth_timeline(n_tasks=40, n_lanes=2, exit_lanes=(1,))
    m = GanttModel(tl)
    m.sync()
    lo, hi = m.x_extent()
    f = m.frame(lo, hi + 1.0, (hi + 1.0 - lo) / 1000, range(2))
    life = f.lifecycle
    news = life.code == WorkerState.NEW
    assert sorted(life.lane[news]) == [0, 1]
    info = tl.lanes[0]
    first_new = np.flatnonzero(news & (life.lane == 0))[0]
    assert life.x0[first_new] == pytest.approx((info.created_ns - T0) * 1e-9)
    assert life.x1[first_new] == pytest.approx((info.ready_ns - T0) * 1e-9)
    term = np.flatnonzero(life.code == WorkerState.TERMINATED)
    assert list(life.lane[term]) == [1]
    assert life.x1[term[0]] >= hi + 1.0 - 1e-6  # to the end of the view
    assert m.state_at(float(life.x0[term[0]]) + 1e-6, 1)[0] == WorkerState.TERMINATED


def test_a_replaced_worker_gets_its_own_lane():
    tl = synth_timeline(n_tasks=40, n_lanes=2, exit_lanes=(1,), queued=(39,))
    m = GanttModel(tl)
    m.sync()
    replacement = replace(tl.lanes[1], index=2, pid=5555, exit_ns=-1, exit_code=None)
    start = np.zeros(1, START_DTYPE)
    start[0] = (39, 2, tl.now_ns)
    tl.apply(EngineBatch(lanes=(replacement,), started=start, now_ns=tl.now_ns + MS))
    m.sync()
    assert m.lane_count == 3
    assert list(m.tasks[2].key) == [39]
    assert 39 not in set(m.tasks[1].key)
    assert m.live


# ---- the per-zoom-level cache ------------------------------------------------------------------


def dense_series(n: int, seed: int = 0, failed_every: int = 997) -> tuple[LaneSeries, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dur = rng.exponential(1.0, n)
    x0 = np.cumsum(dur + rng.exponential(0.2, n)) - dur
    x1 = x0 + dur
    rank = np.zeros(n, np.uint8)
    rank[::failed_every] = 4
    return series_of(x0, x1, rank=rank, group=np.arange(n) // 3), x0, x1


def test_cached_merge_covers_the_same_pixels_as_the_direct_one():
    s, x0, x1 = dense_series(50_000)
    merger = LaneMerger(s, MAX)
    for vx0, vx1 in ((x0[0], x1[-1]), (x0[10_000], x0[40_000]), (x0[123] - 50.0, x0[30_000] + 0.3)):
        px = (vx1 - vx0) / 900
        cached = merger.rects(0, vx0, vx1, px)
        direct = merge_lane(s, 0, vx0, vx1, px)
        assert len(cached) < 4 * 900
        assert same_pixels(cached, x0, x1, vx0, px, 900)
        assert same_pixels(direct, x0, x1, vx0, px, 900)
        # every failure still shows, within a pixel of where the direct merge puts it
        fail = RANK_OF_STATE[TaskState.FAILED]
        got = columns(cached.x0[cached.code == fail], cached.x1[cached.code == fail], vx0, px, 900)
        want = columns(direct.x0[direct.code == fail], direct.x1[direct.code == fail], vx0, px, 900)
        assert want and all({c - 1, c, c + 1} & got for c in want)


def test_cache_updated_from_the_tail_equals_a_fresh_one():
    full, x0, x1 = dense_series(30_000, seed=3)
    s = LaneSeries()
    merger = LaneMerger(s, MAX)
    level = -3  # 1/8 s columns: many segments per column, long coalesced runs
    step = 1_000
    for a in range(0, 30_000, step):
        b = a + step
        # the last bar of each step arrives "running" (short), and is stretched a step later
        s.extend(x0[a:b], np.r_[x1[a : b - 1], x0[b - 1] + 0.01], full.rank[a:b], full.key[a:b],
                 np.arange(a, b) // 3)
        merger.level_runs(level)
        s.update(np.array([b - 1]), x1=np.array([x1[b - 1]]))
        merger.level_runs(level)
    s.update(np.array([29_000]), rank=np.array([2], np.uint8))  # a change well before the tail
    got, _ = merger.level_runs(level)
    want, _ = LaneMerger(s, MAX).level_runs(level)
    for f in ("x0", "x1", "code", "shade", "key", "src"):
        assert np.array_equal(getattr(got, f), getattr(want, f)), f


def test_panning_at_one_zoom_reuses_the_cached_runs(monkeypatch):
    import procviz.gui.gantt.lod as lod

    s, x0, x1 = dense_series(40_000)
    merger = LaneMerger(s, MAX)
    width = (x1[-1] - x0[0]) / 2
    px = width / 800
    merger.rects(0, x0[0], x0[0] + width, px)
    calls = []
    real = lod.build_runs
    monkeypatch.setattr(lod, "build_runs", lambda *a, **k: calls.append(a) or real(*a, **k))
    for shift in np.linspace(0, width, 20):
        merger.rects(0, x0[0] + shift, x0[0] + shift + width, px)
    assert calls == []
    s.extend(np.array([x1[-1] + 1.0]), np.array([x1[-1] + 2.0]), np.zeros(1, np.uint8), np.array([-5]))
    merger.rects(0, x0[0], x0[0] + width, px)
    assert len(calls) == 1 and calls[0][1] > 39_000  # only the tail was merged again


@pytest.mark.parametrize("seed", range(6))
def test_cache_survives_random_appends_updates_and_zoom_levels(seed):
    rng = np.random.default_rng(seed)
    full, x0, x1 = dense_series(6_000, seed=seed, failed_every=61)
    s = LaneSeries()
    mergers = {mode: LaneMerger(s, mode) for mode in (MAX, DOMINANT)}
    levels = [-4, -1, 1, 3]
    late = set(rng.choice(6_000, 300, replace=False).tolist())  # these arrive a batch or more late
    held: list[int] = []
    a = 0
    while a < 6_000:
        b = min(6_000, a + int(rng.integers(1, 400)))
        now = [i for i in range(a, b) if i not in late]
        back, held = held, [i for i in range(a, b) if i in late]
        idx = np.array(sorted(now + back), np.int64)
        if len(idx):
            s.extend(x0[idx], x1[idx], full.rank[idx], idx)
        if s.n > 10 and rng.random() < 0.5:
            pos = rng.integers(max(0, s.n - 50), s.n, size=2)
            shrunk = s.x0[pos] + (s.x1[pos] - s.x0[pos]) * rng.uniform(0.2, 1.0, 2)  # stays disjoint
            s.update(pos, x1=shrunk, rank=rng.integers(0, 5, 2).astype(np.uint8))
        for merger in mergers.values():
            merger.level_runs(int(rng.choice(levels)))
        a = b
    if held:
        s.extend(x0[held], x1[held], full.rank[held], np.array(held))
    for mode, merger in mergers.items():
        for level in levels:
            got, _ = merger.level_runs(level)
            want, _ = LaneMerger(s, mode).level_runs(level)
            for f in ("x0", "x1", "code", "shade", "key", "src", "fuzzy"):
                assert np.array_equal(getattr(got, f), getattr(want, f)), (mode, level, f)


@pytest.mark.parametrize("mode", [MAX, DOMINANT])
def test_batched_resume_of_many_lanes_equals_fresh_caches(mode):
    lanes = 6
    data = [dense_series(4_000, seed=10 + k, failed_every=37 + k) for k in range(lanes)]
    series = [LaneSeries() for _ in range(lanes)]
    mergers = [LaneMerger(s, mode) for s in series]
    rng = np.random.default_rng(0)
    done = [0] * lanes
    vx1 = max(x1[-1] for _, _, x1 in data)
    for _ in range(30):
        for k, (full, x0, x1) in enumerate(data):
            b = min(4_000, done[k] + int(rng.integers(0, 200)))  # some lanes get nothing this frame
            if b > done[k]:
                series[k].extend(x0[done[k]:b], x1[done[k]:b], full.rank[done[k]:b], full.key[done[k]:b],
                                 np.arange(done[k], b) // 4)
                done[k] = b
        got = merge_lanes(mergers, range(lanes), -1.0, vx1, vx1 / 700)
    fresh = merge_lanes([LaneMerger(s, mode) for s in series], range(lanes), -1.0, vx1, vx1 / 700)
    for f in ("x0", "x1", "lane", "code", "shade", "key"):
        assert np.array_equal(getattr(got, f), getattr(fresh, f)), f
    assert len(got) > lanes


def test_batched_direct_merge_of_many_lanes_equals_lane_by_lane():
    tl = synth_timeline(n_tasks=20_000, n_lanes=5, failed=(7, 9_000), timeout=(40,))
    m = GanttModel(tl)
    m.sync()
    lo, hi = m.x_extent()
    vx0, vx1 = lo + (hi - lo) * 0.3, lo + (hi - lo) * 0.31  # zoomed in: merged on the view's own grid
    px = (vx1 - vx0) / 300
    mergers = [LaneMerger(s, MAX) for s in m.tasks]
    assert not any(mg.wants_cache(vx0, vx1, px) for mg in mergers)
    got = merge_lanes(mergers, range(5), vx0, vx1, px)
    assert len(got) > 20
    for lane in range(5):
        want = merge_lane(m.tasks[lane], lane, vx0, vx1, px)
        mine = got.lane == lane
        for f in ("x0", "x1", "code", "shade", "key"):
            assert np.array_equal(getattr(got, f)[mine], getattr(want, f)), (lane, f)
