"""An atomic write leaves no temporary behind: not while it runs (a nameless file where the file
system allows one), not when its writer is SIGKILLed (a real ``procviz export``), and a named one
left by a dead writer is removed by the next write into that folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic import finished_run

from procviz.engine.formats import read_timeline, tmpfiles, write_timeline
from procviz.engine.formats.fileio import atomic_output
from procviz.engine.formats.tmpfiles import TempOutput, start_ticks, sweep_stale


def _nameless_here(folder: Path) -> bool:
    temp = TempOutput(folder / "probe")
    try:
        return temp.path is None
    finally:
        temp.discard()


def _temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@pytest.fixture(params=["nameless", "named"])
def mode(request, tmp_path, monkeypatch) -> str:
    """Both ways of holding the temporary; the nameless one only where this file system has it."""
    if request.param == "nameless" and not _nameless_here(tmp_path):
        pytest.skip("no O_TMPFILE (or no way to link it) on this file system")
    monkeypatch.setattr(tmpfiles, "NAMELESS", request.param == "nameless")
    return request.param


def test_while_writing_only_the_named_fallback_shows_and_it_names_its_writer(tmp_path, mode):
    target = tmp_path / "out.json"
    with atomic_output(target) as out:
        out.write(b"{}")
        during = _temporaries(tmp_path)
    if mode == "nameless":
        assert during == []
    else:
        assert len(during) == 1
        assert during[0].startswith(f".out.json.procviz-{os.getpid()}-{start_ticks(os.getpid())}-")
    assert os.listdir(tmp_path) == ["out.json"]
    assert target.read_bytes() == b"{}"


def test_a_failed_write_leaves_neither_temporary_nor_target(tmp_path, mode):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_dead_writers_temporaries_only(tmp_path):
    me, mine = os.getpid(), start_ticks(os.getpid())
    dead = f".a.json.procviz-{_dead_pid()}-123-00ab.tmp"
    reused = f".b.json.procviz-{me}-{mine + 1}-00ab.tmp"  # our PID, another process's start time
    live = f".c.json.procviz-{me}-{mine}-00ab.tmp"
    foreign = [".d.json.x1y2.tmp", "notes.procviz-1-2-ab.tmp", ".e.json.procviz-x-1-ab.tmp"]
    for name in [dead, reused, live, *foreign]:
        (tmp_path / name).write_bytes(b"x")
    write_timeline(finished_run(20), tmp_path / "run.json")
    assert _temporaries(tmp_path) == sorted([live, *foreign])
    assert sweep_stale(tmp_path) == []


_KILLED_EXPORT = """
import sys
from procviz.engine.formats import tmpfiles
tmpfiles.NAMELESS = sys.argv[1] == "nameless"
from procviz.engine.cli import main
sys.exit(main(["export", sys.argv[2], "--out", sys.argv[3]]))
"""


def _writing_into(pid: int, folder: Path) -> bool:
    """Whether ``pid`` holds a file in ``folder`` open that already has data in it."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        for fd in os.listdir(fd_dir):
            link = os.readlink(f"{fd_dir}/{fd}")
            if link.startswith(f"{folder}/") and os.stat(f"{fd_dir}/{fd}").st_size > 0:
                return True
    except OSError:  # (the process ended, or closed that descriptor meanwhile)
        pass
    return False


def _kill_mid_write(source: Path, folder: Path, mode: str) -> bool:
    """Start ``procviz export`` of ``source`` into ``folder``; SIGKILL it once it has written data
    into its temporary. False when it finished before that was seen (a very slow poll)."""
    child = subprocess.Popen([sys.executable, "-c", _KILLED_EXPORT, mode, str(source), str(folder / "out.trace.json")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            if _writing_into(child.pid, folder):
                child.send_signal(signal.SIGKILL)
                assert child.wait(timeout=30) == -signal.SIGKILL
                return True
            time.sleep(0.001)
        return False
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_sigkilled_export_leaves_no_litter_after_the_next_write(tmp_path, mode):
    source = tmp_path / "source.json"
    write_timeline(finished_run(200_000), source)
    folder = tmp_path / "out"
    folder.mkdir()
    for _ in range(3):
        if _kill_mid_write(source, folder, mode):
            break
    else:
        pytest.fail("the export finished three times before its write was seen in progress")
    left = _temporaries(folder)
    assert not (folder / "out.trace.json").exists()
    if mode == "nameless":
        assert left == []  # nothing was ever named
    else:
        assert len(left) == 1 and ".procviz-" in left[0]  # the writer's name: its PID is dead now
    write_timeline(finished_run(20), folder / "other.json")
    assert os.listdir(folder) == ["other.json"]
    assert read_timeline(folder / "other.json").n_tasks == 20
