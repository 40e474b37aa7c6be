"""``procviz run --out``: the file is what the run leaves, whatever happens to the text.

Found by a user campaign: a summary piped to a reader that leaves (``| true``, ``| head -1``) lost
the timeline or said it could not be written; a name no writer takes, or a folder, was refused only
after the whole run; a run that never ran (its function cannot be imported) replaced an existing
file with an empty timeline.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

RUN = [sys.executable, "-m", "procviz.engine.cli", "run", "--quiet"]
SMALL = ["--workers", "2", "--kind", "sleep", "--count", "4", "--duration-ms", "10"]


def _piped(args: list[str], reader: list[str]) -> tuple[int, str]:
    """Run procviz with its stdout into ``reader`` (which may leave early); (exit code, stderr)."""
    pv = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert pv.stdout is not None and pv.stderr is not None
    consumer = subprocess.Popen(reader, stdin=pv.stdout, stdout=subprocess.DEVNULL)
    pv.stdout.close()  # the reader holds the pipe's only read end: when it leaves, writes break
    consumer.wait(timeout=120)
    err = pv.stderr.read()
    return pv.wait(timeout=120), err


def test_a_reader_that_leaves_takes_neither_the_file_nor_the_exit_code(tmp_path) -> None:
    for n, reader in enumerate((["true"], ["head", "-c", "1"])):
        out = tmp_path / f"t{n}.json"
        code, err = _piped([*RUN, *SMALL, "--out", str(out)], reader)
        assert code == 0, err
        assert "cannot write" not in err and "Traceback" not in err, err
        assert len(json.loads(out.read_text())["tasks"]["state"]) == 4


def test_a_full_stdout_takes_neither_the_file_nor_the_exit_code(tmp_path) -> None:
    out = tmp_path / "t.json"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*RUN, *SMALL, "--out", str(out)], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.exists()


def test_an_out_no_writer_takes_is_refused_before_the_run(tmp_path) -> None:
    (tmp_path / "folder").mkdir()
    for name, says in (("x.txt", "cannot tell the format"), ("folder", "it is a folder")):
        started = time.monotonic()
        proc = subprocess.run([*RUN, "--kind", "sleep", "--count", "1", "--duration-ms", "60000",
                               "--out", str(tmp_path / name)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert says in proc.stderr
        assert name != "x.txt" or ".png" in proc.stderr  # the formats it names include pictures
        assert "makespan" not in proc.stdout  # refused before the run: no 60 s task ran
        assert time.monotonic() - started < 50


def test_a_run_that_never_ran_leaves_an_existing_file_alone(tmp_path) -> None:
    out = tmp_path / "keep.json"
    out.write_text("what was there")
    proc = subprocess.run([*RUN, "--kind", "function", "--function", "no_such_module_pv_out:f", "--args", "[[1]]",
                           "--out", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert out.read_text() == "what was there"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("procviz run: invalid:") and "no_such_module_pv_out" in lines[0]


def test_a_closed_stderr_takes_nothing_of_the_exit_code(tmp_path) -> None:
    """``procviz run ... 2>&1 | true``: the one line that says why a run was refused cannot be
    written, and the command still exits 2 (it exited 0)."""
    for args in (["--workers", "0"], ["--kind", "function", "--function", "no_such_module_pv_err:f", "--args", "[[1]]"],
                 [*SMALL, "--out", str(tmp_path / "x.txt")]):
        pv = subprocess.Popen([*RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
        assert pv.stdout is not None
        consumer = subprocess.Popen(["true"], stdin=pv.stdout)
        pv.stdout.close()
        consumer.wait(timeout=120)
        assert pv.wait(timeout=120) == 2, args


def test_a_closed_standard_stream_is_held_on_dev_null_so_no_file_takes_its_number(tmp_path) -> None:
    """Started with 1 closed, the next file procviz opened was descriptor 1, and what it printed
    went into that file (a socket of the run, the timeline being written)."""
    script = ("import os, sys\n"
              "from procviz.engine.std_streams import hold_standard_streams\n"
              "hold_standard_streams()\n"
              f"f = open({str(tmp_path / 'file')!r}, 'w')\n"
              "print(f.fileno(), os.path.realpath('/proc/self/fd/1'), os.path.realpath('/proc/self/fd/0'),"
              " file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=60,
                          preexec_fn=lambda: (os.close(0), os.close(1)))  # type: ignore[func-returns-value]
    assert proc.returncode == 0, proc.stderr
    fileno, one, zero = proc.stderr.split()
    assert int(fileno) > 2 and one == zero == "/dev/null"


def test_a_closed_stdout_takes_nothing_of_the_exit_code(tmp_path) -> None:
    """``procviz run ... >&-``: the summary has nowhere to go (an AttributeError traceback and exit 1
    before), the run and its file stand."""
    out = tmp_path / "t.json"
    proc = subprocess.run([*RUN, *SMALL, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(json.loads(out.read_text())["tasks"]["state"]) == 4


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "procviz.engine.cli", "export", *args], capture_output=True,
                          text=True, timeout=120)


def test_an_out_that_is_a_link_or_a_pipe_stays_one(tmp_path) -> None:
    """A write used to rename its temporary over the target, whatever it was: a symbolic link became
    a file of its own (the file it named left as it was), a named pipe a plain file, and, as root,
    ``--out /dev/null`` replaced the device itself."""
    source = tmp_path / "t.json"
    assert subprocess.run([*RUN, *SMALL, "--out", str(source)], capture_output=True, timeout=120).returncode == 0
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    link.symlink_to(real.name)  # dangling: the file comes to be where it points
    proc = _export(str(source), "--out", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink(), "the link was replaced by a file"
    assert real.read_text().count("\n") >= 5  # a header and the 4 tasks, in the file the link names
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = _export(str(source), "--out", str(fifo))
    reader.join(60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the pipe was replaced by a file"
    assert got and got[0] == real.read_bytes()


def test_a_named_pipe_is_written_once_a_reader_comes_late_and_the_wait_is_said(tmp_path) -> None:
    """Without a reader the write waited in open() without a word; a run's own must not be lost
    for a reader that comes late (``--out pipe`` then ``cat pipe``); a Ctrl-C gives up."""
    source = tmp_path / "t.json"
    assert subprocess.run([*RUN, *SMALL, "--out", str(source)], capture_output=True, timeout=120).returncode == 0
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "procviz.engine.cli", "export", str(source), "--out", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    said = proc.stderr.readline()
    assert said == f"procviz export: waiting for a program to read {fifo} (Ctrl-C gives up)\n"
    time.sleep(2.5)  # longer than the 2 s the file writers give a pipe on their own
    got = fifo.read_bytes()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert got.count(b"\n") >= 5 and got.startswith(b"id,state")
    proc = subprocess.Popen([sys.executable, "-m", "procviz.engine.cli", "export", str(source), "--out", str(fifo)],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stderr.readline().startswith("procviz export: waiting")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 3
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_export_says_what_stops_it_in_one_line_without_errno(tmp_path) -> None:
    (tmp_path / "folder").mkdir()
    source = tmp_path / "t.json"
    assert subprocess.run([*RUN, *SMALL, "--out", str(source)], capture_output=True, timeout=120).returncode == 0
    for args, says in (([str(source), "--out", str(tmp_path / "folder")], "cannot write"),
                       ([str(tmp_path / "folder"), "--out", str(tmp_path / "x.json")], "cannot read"),
                       ([str(tmp_path / "none.json"), "--out", str(tmp_path / "x.json")], "no such file"),
                       ([str(source), "--out", str(tmp_path / "x.foo")], ".png / .svg")):
        proc = _export(*args)
        assert proc.returncode == 2, args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], lines
        assert "Errno" not in lines[0] and ".tmp" not in lines[0], lines[0]


def test_the_summary_says_why_tasks_failed_and_a_tasks_chdir_does_not_move_the_file(tmp_path) -> None:
    """The outcome said "2 of 2 tasks failed or timed out" and no more (the reason was only in the
    file); and a thread task's os.chdir() (the thread backend runs it in procviz's own process)
    sent a relative --out under another folder, or lost it."""
    (tmp_path / "usermod.py").write_text(
        "import os\n"
        "def two(a, b):\n    return a + b\n"
        "def away(x=1):\n    os.chdir('/')\n    return x\n")
    (tmp_path / "out").mkdir()
    base = [sys.executable, "-m", "procviz.engine.cli", "run", "--quiet", "--kind", "function", "--count", "2",
            "--workers", "2"]
    proc = subprocess.run([*base, "--function", "usermod:two"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "error: 2 tasks: TypeError: two() missing 2 required positional arguments: 'a' and 'b'" in proc.stdout
    proc = subprocess.run([*base, "--function", "usermod:away", "--backend", "thread_pool_executor",
                           "--out", "out/t.json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "t.json").read_text())["run"]["n_tasks"] == 2
    assert "timeline: out/t.json" in proc.stdout


def test_one_error_is_one_line_whatever_address_its_message_names() -> None:
    # "<function <lambda> at 0x7f87...>" differs task by task: one error was listed once per task.
    import numpy as np

    from procviz.engine.error_summary import error_lines
    from procviz.engine.events import TaskState
    from procviz.engine.timeline import Timeline
    from procviz.engine.worker.wire import TaskText

    tl = Timeline()
    tl.state = np.full(3, TaskState.FAILED, np.uint8)
    for task, address in enumerate(("0x7f87a1b2c3d0", "0x7f87a1b2c4e0", "0x7f00ffee0010")):
        tl.texts[task] = TaskText(task, "error", "MaybeEncodingError",
                                  f"Error sending result: '<function <lambda> at {address}>'")
    assert error_lines(tl) == ["error: 3 tasks: MaybeEncodingError: Error sending result: "
                               "'<function <lambda> at 0x…>'"]


def test_one_error_is_one_line_whatever_process_it_names_and_a_lone_one_keeps_its_pid() -> None:
    # A scenario's main program ended its roles, each "worker pid N was terminated ...": the
    # summary listed 57 of them as 57 errors.
    import numpy as np

    from procviz.engine.error_summary import error_lines
    from procviz.engine.events import TaskState
    from procviz.engine.timeline import Timeline
    from procviz.engine.worker.wire import TaskText

    tl = Timeline()
    tl.state = np.full(4, TaskState.FAILED, np.uint8)
    for task, pid in enumerate((4101, 4102, 4103)):
        tl.texts[task] = TaskText(task, "error", "WorkerDied", f"worker pid {pid} was terminated (SIGTERM)")
    tl.texts[3] = TaskText(3, "error", "ScenarioAborted", "process 2 (pid 4099) killed by SIGKILL")
    assert error_lines(tl) == ["error: 3 tasks: WorkerDied: worker pid … was terminated (SIGTERM)",
                               "error: 1 task: ScenarioAborted: process 2 (pid 4099) killed by SIGKILL"]
