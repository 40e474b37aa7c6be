"""A finished run whose --out cannot be written is kept, not lost (found by a CLI fault campaign).

``procviz run --out`` checks its path before the run, but a folder removed during the run, or a
disk that filled up, failed the write at the end: exit 2, and a run of minutes gone with nothing
kept. Now its timeline is written as native JSON to the temporary files' folder and the error says
where; only when that fails too is the run said lost.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

from procviz.engine.events import TaskState
from procviz.engine.formats import read_timeline

APP = [sys.executable, "-m", "procviz", "run", "--backend", "pool", "--workers", "1", "--quiet"]
FILE_LIMIT = 8192  # bytes a child may write to one file: less than a 200-task run's timeline


def _run_removing(folder: Path, keep: Path, tasks: int = 1, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    """A run whose tasks remove ``folder`` (the first does), where its --out goes; temporary files
    in ``keep``."""
    args = ["--kind", "function", "--function", "shutil:rmtree", "--args", json.dumps([[str(folder), True]] * tasks),
            "--out", str(folder / "t.json")]
    env = {"TMPDIR": str(keep), "PATH": "/usr/bin:/bin"}
    return subprocess.run([*APP, *args], capture_output=True, text=True, timeout=120, env=env, **kwargs)


def test_a_run_whose_out_folder_went_away_is_kept_in_the_temporary_folder(tmp_path: Path) -> None:
    folder, keep = tmp_path / "out", tmp_path / "keep"
    folder.mkdir()
    keep.mkdir()
    proc = _run_removing(folder, keep)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not folder.exists()  # (the task did remove it: the write at the end failed)
    kept = list(keep.iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("procviz-run-") and kept[0].suffix == ".json", kept
    assert "Traceback" not in proc.stderr
    assert f"cannot write {folder / 't.json'}" in proc.stderr and f"kept in {kept[0]}" in proc.stderr, proc.stderr
    tl = read_timeline(kept[0])
    assert tl.n_tasks == 1 and tl.state[0] == TaskState.DONE


def _limited() -> None:
    """(In the child, before exec.) Writes past FILE_LIMIT bytes fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def test_a_run_that_cannot_be_kept_either_says_it_is_lost_and_leaves_no_file(tmp_path: Path) -> None:
    folder, keep = tmp_path / "out", tmp_path / "keep"
    folder.mkdir()
    keep.mkdir()
    proc = _run_removing(folder, keep, tasks=200, preexec_fn=_limited)  # a file over the limit
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"nor could it be kept in {keep}" in proc.stderr and "the timeline is lost" in proc.stderr, proc.stderr
    assert list(keep.iterdir()) == []
