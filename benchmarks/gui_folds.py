"""The window's per-run data work, without Qt: a recorded run folded into the chart's model, the
queue plot's steps and the live numbers' frozen copy, as the window does it, timed in thread CPU.

A run's engine batches are recorded once (``gui_replay.record``); a child process then applies
them to a Timeline a few batches at a time (as the bridge's ticks do) and after each group folds
them in as the window would: the chart's model (``GanttModel.sync`` in the paced fold's slices),
the queue's steps (``QueueSteps.update``, same slices) and the numbers' copy (``FrozenCopy.take``).
Each part's thread CPU is summed over the run, and split at the run's start (the run's reset and
its submissions: the work beside the booting workers). The child runs this tree's procviz or a
baseline revision's (``--baseline REV``), alternated, repeated, medians. No workers compete and
no Qt event loop runs: a quiet A/B of the GUI thread's data work. Used by
``bench_gui.py --folds ROUNDS``; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PARTS = ("apply", "model", "queue", "numbers")
EVERY = 3  # batches applied per fold (the bridge's 33 ms ticks against the chart's >= 100 ms pace)


class Folding:
    """One pass of a recorded run through the window's data work, each part's thread CPU summed."""

    def __init__(self) -> None:
        from procviz.engine.timeline import Timeline
        from procviz.gui.gantt.model import GanttModel
        from procviz.gui.gantt.queue_steps import QueueSteps
        from procviz.gui.numbers_worker import FrozenCopy

        self.tl = Timeline()
        self.model, self.steps, self.frozen = GanttModel(self.tl), QueueSteps(), FrozenCopy()
        self.cpu = dict.fromkeys(PARTS, 0.0)

    def _timed(self, part: str, work: Callable[[], object]) -> None:
        t = time.thread_time()
        work()
        self.cpu[part] += time.thread_time() - t

    def apply(self, batch: object) -> None:
        """A tick: the batch into the Timeline, the model told."""
        self._timed("apply", lambda: self.model.invalidate(self.tl.apply(batch).reset))

    def fold(self) -> None:
        """The paced fold (the model, then the queue, in slices) and a numbers refresh."""
        from procviz.gui.gantt.widget import FOLD_SLICE, MAX_SLICES  # (the tree's own: a baseline's for it)

        limit = max(FOLD_SLICE, len(self.tl.state) // MAX_SLICES)
        self._timed("model", lambda: self._slices(lambda: self.model.sync(limit), lambda: self.model.more))
        self._timed("queue", lambda: self._slices(lambda: self.steps.update(self.tl, limit), lambda: self.steps.more))
        self._timed("numbers", lambda: self.frozen.take(self.tl))

    @staticmethod
    def _slices(work: Callable[[], object], more: Callable[[], bool]) -> None:
        work()
        while more():
            work()


def folds_child(recording_path: str, repeats: int) -> None:
    """(In a child process.) Fold the recorded run ``repeats`` times; print the medians as JSON."""
    with open(recording_path, "rb") as f:
        batches = [batch for _, batch in pickle.load(f)[0]]
    first_start = next(i for i, b in enumerate(batches) if len(b.started) or len(b.ended))
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        folding, lead = Folding(), {}
        for i, batch in enumerate(batches):
            folding.apply(batch)
            if i % EVERY == EVERY - 1 or i == len(batches) - 1 or i == first_start - 1:
                folding.fold()
            if i == first_start - 1:
                lead = dict(folding.cpu)
        runs.append({**{f"run_{k}": v for k, v in folding.cpu.items()}, **{f"lead_{k}": v for k, v in lead.items()}})
    print(json.dumps({key: statistics.median(r[key] for r in runs) for key in runs[0]}))


def bench_folds(config: dict, rounds: int, baseline_env: tuple[str, dict[str, str]] | None,
                repeats: int = 5) -> None:
    """Record ``config``'s run once, then fold it in children of this tree (and the baseline's),
    alternated ``rounds`` times; print each part's thread CPU (medians)."""
    from gui_replay import alternated, record

    script = str(Path(__file__).resolve().parent / "bench_gui.py")
    with tempfile.TemporaryDirectory() as tmp:
        cfg, rec = Path(tmp) / "config.json", Path(tmp) / "run.pkl"
        cfg.write_text(json.dumps(config))
        n = record(str(cfg), str(rec))
        trees = {"window": dict(os.environ)}
        if baseline_env is not None:
            trees[baseline_env[0]] = {**os.environ, **baseline_env[1]}
        got = alternated([sys.executable, script, "--folds-child", str(rec), str(repeats)], trees, rounds)
    print(f"\nthe window's data work for one recorded run ({config['workload']['count']:,} tasks, {n} engine "
          f"batches, folded every {EVERY}), {rounds} children each x {repeats} folds, alternated (load "
          f"{os.getloadavg()[0]:.2f} after); thread CPU ms, medians; 'lead': up to the first task's start")
    print(f"  {'':<18}" + "".join(f"{'run ' + p:>13}" for p in PARTS) + "".join(f"{'lead ' + p:>13}" for p in PARTS))
    for name, rows in got.items():
        if not rows:
            continue
        med = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        print(f"  {name:<18}" + "".join(f"{1e3 * med.get('run_' + p, float('nan')):>13.1f}" for p in PARTS)
              + "".join(f"{1e3 * med.get('lead_' + p, float('nan')):>13.1f}" for p in PARTS))
