"""Faults seen from the command line: a killed ``procviz run``, a hung thread and SIGINT, hostile
inputs, big files. Every refusal is exit 2 with one line; nothing of a run outlives procviz."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import MODULE, fault_setup, start_time, survivors, tagged

from procviz.engine import interrupts
from procviz.engine.cli import EXIT_STOPPED, main
from procviz.engine.formats.fileio import MAX_CSV_BYTES, MAX_FILE_BYTES, MAX_NATIVE_BYTES


@pytest.fixture
def faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fault module in place and a fresh run tag (see fault_helpers)."""
    return fault_setup(tmp_path, monkeypatch)


def _procviz_run(*args: str) -> subprocess.Popen:
    # SIGINT as a terminal's Ctrl-C delivers it: a test run started as a background job ('&') has
    # it ignored, and procviz rightly keeps a signal it was started with ignored.
    return subprocess.Popen([sys.executable, "-m", "procviz.engine.cli", "run", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _kill_and_check(proc: subprocess.Popen, tag: str) -> None:
    """SIGKILL ``proc``; nothing of the run may be alive 3 s later. (Its pipes are read only
    afterwards: a survivor holding them would make reading wait for the survivor's end.)"""
    proc.kill()
    proc.wait()
    try:
        assert survivors(tag, timeout_s=3.0) == []
    finally:
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def _wait_tagged(tag: str, n: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(tagged(tag)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {n} processes of the run appeared")
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ("pool", "process_pool_executor", "process", "serial"))
def test_sigkilled_procviz_run_leaves_no_process_of_the_run(faults: str, backend: str) -> None:
    proc = _procviz_run("--backend", backend, "--workers", "2", "--kind", "sleep", "--count", "40",
                        "--duration-ms", "1000")
    try:
        _wait_tagged(faults, 3)  # procviz run and at least two of its processes
        time.sleep(0.5)
    finally:
        _kill_and_check(proc, faults)


def _tagged_named(tag: str, names: tuple[str, ...]) -> int:
    """How many processes of the run (by tag) have one of ``names`` as their command name."""
    return sum(name in names for name in tagged(tag).values())


GRANDCHILDREN = [(b, "popen_nap") for b in ("pool", "process", "serial", "process_pool_executor",
                                               "thread_pool_executor")]
GRANDCHILDREN += [(b, "mp_nap") for b in ("process_pool_executor", "thread_pool_executor")]


@pytest.mark.parametrize(("backend", "fn"), GRANDCHILDREN, ids=[f"{b}-{f}" for b, f in GRANDCHILDREN])
def test_sigkilled_procviz_run_leaves_no_grandchild(faults: str, backend: str, fn: str) -> None:
    """Tasks start a ``sleep 60`` (Popen) or a spawn ``multiprocessing.Process`` and go on; procviz
    is SIGKILLed: 3 s later nothing of the run is alive (the guardian swept the orphans)."""
    proc = _procviz_run("--backend", backend, "--workers", "2", "--kind", "function", "--function",
                        f"{MODULE}:{fn}", "--args", json.dumps([[20]] * 8))
    kinds = ("sleep",) if fn == "popen_nap" else ("python", "python3")
    try:
        deadline = time.monotonic() + 60
        # procviz's threads start their grandchildren themselves: wait for both, not for workers
        # (serial runs one task at a time: its second child would come only after the first nap)
        while _tagged_named(faults, ("sleep",) if fn == "popen_nap" else kinds) < (
                (1 if backend == "serial" else 2) if fn == "popen_nap"
                else 3 + (backend != "thread_pool_executor") * 2):
            assert time.monotonic() < deadline, "the tasks' children did not appear"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(1.5)  # at least one scan of the run's tree (procviz's SCAN_S) since they started
    finally:
        _kill_and_check(proc, faults)


def test_sigkilled_during_the_import_check_leaves_nothing(faults: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """procviz killed while its import check runs (here: a module that hangs at import): the
    check's child is no worker (no death signal) and runs before any worker exists; it must not
    outlive procviz."""
    monkeypatch.setenv("PROCVIZ_FAULT", "hang")
    monkeypatch.setenv("PROCVIZ_FAULT_WHERE", "everywhere")
    proc = _procviz_run("--kind", "function", "--function", f"{MODULE}:ok", "--args", "[[1]]")
    try:
        _wait_tagged(faults, 2, timeout_s=60)  # procviz and the check's child (hanging at import)
        time.sleep(0.5)
    finally:
        _kill_and_check(proc, faults)


def test_pkill_f_procviz_does_not_take_the_guardian(faults: str) -> None:
    """``pkill -9 -f procviz`` kills at once every process whose command line names procviz (or,
    installed, its folder .../procviz/engine): the guardian must not be one of them, or the tasks'
    children outlive procviz (here double-forked daemons, which no worker's lifeline reaches).
    Emulated on this run's processes only."""
    import psutil

    import procviz.engine

    proc = _procviz_run("--backend", "pool", "--workers", "2", "--kind", "function", "--function",
                        f"{MODULE}:daemon_nap", "--args", json.dumps([[20]] * 4))
    names = (b"procviz", os.path.dirname(procviz.engine.__file__).encode())
    try:
        deadline = time.monotonic() + 60
        while _tagged_named(faults, ("sleep",)) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "the tasks' children did not appear"
            time.sleep(0.1)
        time.sleep(1.5)  # a tree scan of procviz's since they started
        victims = [proc.pid]
        for child in psutil.Process(proc.pid).children(recursive=True):
            with open(f"/proc/{child.pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if any(name in cmdline for name in names):
                victims.append(child.pid)
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
    finally:
        _kill_and_check(proc, faults)


def _wait_file(path: Path, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.01)


SCRUBBED = [("pool", True), ("process", True), ("serial", True), ("process_pool_executor", True),
            ("thread_pool_executor", False)]


@pytest.mark.parametrize(("backend", "stalled"), SCRUBBED, ids=[b for b, _ in SCRUBBED])
def test_an_untagged_process_started_just_before_the_kill_is_swept(faults: str, tmp_path: Path, backend: str,
                                                                   stalled: bool) -> None:
    """A task starts ``env -i sleep 60`` (no run tag), and procviz is SIGKILLed well within one of
    its own tree scans (1 s): the guardian, following procviz's tree itself, still kills it.

    On the process backends procviz is even SIGSTOPped first, so its own scan cannot tell anyone
    about the child (it would escape without the guardian's walk, every time); a thread task runs
    inside procviz, so there procviz is killed 0.4 s (four of the guardian's walks) after the child
    appears."""
    go, out = tmp_path / "go", tmp_path / "pid"
    proc = _procviz_run("--backend", backend, "--workers", "1", "--kind", "function", "--function",
                        f"{MODULE}:scrubbed", "--args", json.dumps([[str(go), str(out)]]))
    child, started = 0, None
    try:
        _wait_file(tmp_path / "pid.ready", proc)
        if stalled:
            proc.send_signal(signal.SIGSTOP)
        go.touch()
        _wait_file(out, proc)
        child = int(out.read_text())
        started = start_time(child)
        time.sleep(0.5 if stalled else 0.4)
    finally:
        try:
            _kill_and_check(proc, faults)
        finally:
            deadline = time.monotonic() + 3.0
            while started is not None and start_time(child) == started and time.monotonic() < deadline:
                time.sleep(0.05)
            escaped = started is not None and start_time(child) == started
            if escaped:
                os.kill(child, signal.SIGKILL)  # the test fails, and leaves nothing behind
    assert not escaped, f"the untagged sleep {child} outlived procviz"


def test_sigint_ends_a_run_whose_thread_tasks_hang(faults: str, tmp_path: Path) -> None:
    out = tmp_path / "hung.json"
    marks = [tmp_path / f"began{i}" for i in range(3)]
    proc = _procviz_run("--backend", "thread_pool_executor", "--workers", "2", "--kind", "function",
                        "--function", f"{MODULE}:hang_marked", "--args", json.dumps([[str(m)] for m in marks]),
                        "--out", str(out))
    for mark in marks[:2]:  # the import check, then both threads in their endless tasks
        _wait_file(mark, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)  # a second Ctrl-C must not give a traceback
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("procviz run did not exit after SIGINT with hung threads") from None
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert "a thread cannot be stopped" in stdout
    assert json.loads(out.read_text())["status"]


# The procviz command, with SIGINT arriving while it imports its engine (a Ctrl-C in the first
# half second): a finder on sys.meta_path sends it exactly then.
INTERRUPTED_START = r"""
import os, signal, sys
# Ctrl-C as a terminal delivers it: a shell starts a background job (a test run started with '&')
# with SIGINT ignored, which procviz rightly keeps ignored; here it must arrive.
signal.signal(signal.SIGINT, signal.default_int_handler)
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "procviz.engine.cli":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["procviz", *sys.argv[1:]]
from procviz.gui.app import main
sys.exit(main())
"""


@pytest.mark.parametrize("command", (["run", "--quiet", "--count", "2"], ["export", "in.json", "--out", "o.csv"],
                                     ["--version"]))
def test_ctrl_c_while_procviz_starts_exits_3_with_one_line(tmp_path: Path, command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_START, *command], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_STOPPED, done.stderr
    assert done.stderr.strip().splitlines() == ["procviz: interrupted by SIGINT"]
    assert interrupts.EXIT_INTERRUPTED == EXIT_STOPPED


def _deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize("text,needle", [
    ('{"workers": 2, "workload": {"kind": "function", "function": "m:f", "args": ' + _deep(3000) + "}}",
     "nested too deeply"),
    ('{"workers": 2, "workers": 3}', "repeats the key 'workers'"),
    ('{"workers": ' + "9" * 5000 + "}", "workers: is an integer of 5000 digits"),
])
def test_hostile_configs_are_refused_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, text: str,
                                                   needle: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    assert main(["run", "--config", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("args,needle", [(_deep(3000), "nested too deeply"),
                                         ("[[1, " + "9" * 5000 + "]]", "[0][1]: is an integer of 5000 digits")])
def test_hostile_args_are_refused_with_one_line(capsys: pytest.CaptureFixture, args: str, needle: str) -> None:
    assert main(["run", "--kind", "function", "--function", "m:f", "--args", args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@pytest.fixture
def small_timeline(tmp_path: Path) -> str:
    path = tmp_path / "t.json"
    assert main(["run", "--workers", "1", "--kind", "sleep", "--count", "2", "--duration-ms", "1",
                 "--out", str(path), "--quiet"]) == 0
    return path.read_text()


@pytest.mark.parametrize("edit,needle", [
    (lambda t: t.replace('"run":{', '"run":{"zz":' + _deep(5000) + ",", 1), "nested too deeply"),
    (lambda t: re.sub(r'"t0_ns":\s*\d+', '"t0_ns":' + "7" * 5000, t, count=1), "t0_ns"),
])
def test_hostile_timelines_are_refused_with_one_line(tmp_path: Path, small_timeline: str,
                                                     capsys: pytest.CaptureFixture, edit, needle: str) -> None:
    text = edit(small_timeline)
    assert text != small_timeline
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    capsys.readouterr()
    assert main(["export", str(bad), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name,size", [("big.csv", 300 << 20), ("big.trace.json", 1 << 30),
                                       ("csv_over_its_limit.csv", MAX_CSV_BYTES + 1),
                                       ("native_over_its_limit.json", MAX_NATIVE_BYTES + 1)])
def test_big_files_are_refused_before_parsing(tmp_path: Path, capsys: pytest.CaptureFixture, name: str,
                                              size: int) -> None:
    path = tmp_path / name
    with open(path, "wb") as f:  # sparse: no disk used, and refused before it is parsed
        f.write(b"kind,task\n" if name.endswith(".csv") else b'{"format": "procviz-timeline", ')
        f.truncate(size)
    assert MAX_CSV_BYTES < MAX_FILE_BYTES
    assert main(["export", str(path), "--out", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "MiB" in err or "limited to" in err


@pytest.mark.parametrize("fault,needle", [("exit", "sys.exit(4)"), ("os_exit", "exited with code 7")])
def test_a_module_that_exits_at_import_in_the_parent_exits_2_naming_it(faults: str, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture, fault: str,
                                                                        needle: str) -> None:
    monkeypatch.setenv("PROCVIZ_FAULT", fault)
    monkeypatch.setenv("PROCVIZ_FAULT_WHERE", "everywhere")
    assert main(["run", "--quiet", "--kind", "function", "--function", f"{MODULE}:ok", "--args", "[[1]]"]) == 2
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if line.startswith("procviz run: invalid:")]
    assert len(said) == 1 and f"cannot import {MODULE}:ok" in said[0] and needle in said[0]
    assert "outcome:" not in out  # invalid input: one line on stderr, as for a bad flag
    assert MODULE not in sys.modules


def test_workers_held_alive_after_their_tasks_are_named_in_the_outcome(tmp_path: Path, monkeypatch, capsys) -> None:
    """A task that leaves a non-daemon thread keeps its Pool worker from exiting: the run of 0.15 s
    took the shutdown's 10 s and ended as 'completed' without a word."""
    import procviz.engine.run_loop as run_loop

    (tmp_path / "holding_tasks.py").write_text(
        "import threading, time\n"
        "def hold(x):\n"
        "    threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "    return x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run_loop, "SHUTDOWN_S", 1.5)
    code = main(["run", "--quiet", "--workers", "2", "--kind", "function", "--function", "holding_tasks:hold",
                 "--args", "[[1], [2]]"])
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("outcome:"))
    assert "did not exit 1.5 s after the last task" in line and "terminated" in line, line
    assert re.search(r"workers? pid \d+", line), line
