"""The live numbers' frozen copy is refreshed by the blocks of task ids the Timeline wrote since the
last take (its block stamps), a slice of every column each, not by comparing every row."""

from __future__ import annotations

import numpy as np
from synthetic import synth_batches

from procviz.engine.timeline import TASK_BLOCK, Timeline
from procviz.engine.written_blocks import written_since
from procviz.gui.numbers_worker import MUTABLE_COLUMNS, FrozenCopy


def test_a_take_copies_the_written_blocks_only_and_then_equals_the_timeline() -> None:
    n = 3 * TASK_BLOCK + 100
    batches = synth_batches(n_tasks=n, n_lanes=2, seed=2, batches=6)
    tl = Timeline()
    first = batches[0]
    tl.apply(first.__class__(run=first.run, lanes=first.lanes, submitted=first.submitted))
    copies = FrozenCopy()
    frozen = copies.take(tl)
    for batch in batches:
        stamps = tl.block_stamp.copy()
        tl.apply(batch.__class__(started=batch.started, ended=batch.ended, now_ns=batch.now_ns))
        written = written_since(stamps, tl)
        ids = np.concatenate([batch.started["task_id"], batch.ended["task_id"]])
        blocks = np.unique(ids // TASK_BLOCK)
        assert [lo // TASK_BLOCK for lo, _ in written] == [b for b in blocks if b == blocks[0] or b - 1 not in blocks]
        untouched = np.setdiff1d(np.arange(len(tl.block_stamp)), blocks)
        poison = {int(b): frozen.cpu_ns[b * TASK_BLOCK] for b in untouched}
        for b in poison:
            frozen.cpu_ns[b * TASK_BLOCK] = -12345  # a block not written since: the take leaves it alone
        assert copies.take(tl) is frozen
        for b, value in poison.items():
            assert frozen.cpu_ns[b * TASK_BLOCK] == -12345
            frozen.cpu_ns[b * TASK_BLOCK] = value
        for name in MUTABLE_COLUMNS:
            np.testing.assert_array_equal(getattr(frozen, name), getattr(tl, name), err_msg=name)
    assert written_since(tl.block_stamp.copy(), tl) == []


def test_a_live_runs_first_numbers_come_with_its_submissions(qtbot) -> None:
    from PySide6.QtGui import QColor

    from procviz.engine.events import SUBMIT_DTYPE, EngineBatch, RunInfo, RunPhase, RunStatus, TaskState
    from procviz.gui.live_numbers import LiveNumbers
    from procviz.gui.panels.metrics_panel import MetricsPanel
    from procviz.gui.panels.progress_panel import ProgressPanel
    from procviz.gui.panels.task_model import TaskTableModel

    n = 5000
    tl = Timeline()
    progress, metrics = ProgressPanel(tl), MetricsPanel(tl)
    qtbot.addWidget(progress)
    qtbot.addWidget(metrics)
    numbers = LiveNumbers(tl, progress, metrics, TaskTableModel(tl, lambda state: QColor("gray")))
    try:
        numbers.set_live(True)  # Run pressed
        tl.apply(EngineBatch(run=RunInfo(n_tasks=n, t0_ns=1_000, config={}, host="test", cpu_count=2,
                                         schedstat=True), status=RunStatus(RunPhase.STARTING)))
        tl.apply(EngineBatch(status=RunStatus(RunPhase.RUNNING)))
        qtbot.wait(50)
        # Every task pending: nothing to count, so nothing taken, computed or shown yet.
        assert numbers.refreshes == 0 and numbers.settled
        assert progress.bar.format() == "counting…" and metrics.metrics is None
        rows = np.zeros(n, SUBMIT_DTYPE)
        rows["task_id"], rows["t_ns"] = np.arange(n), 2_000
        tl.apply(EngineBatch(submitted=rows))
        qtbot.waitUntil(lambda: numbers.refreshes == 1 and numbers.settled, timeout=30_000)
        assert progress.counts[TaskState.QUEUED] == n and metrics.metrics is not None
        assert numbers.table.rowCount() == n
    finally:
        numbers.worker.close(wait_s=30.0)
