"""Inputs that are not regular files: a device is read only up to the limit, a named pipe is
waited on with a word, a shell's ``<(command)`` pipe is read once (no re-reads as preset or timeline)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading

import pytest

CONFIG = '{"workers": 1, "workload": {"kind": "sleep", "count": 2, "duration_ms": 1}}'


def procviz(*args: str, **kwargs):
    def small_memory() -> None:  # a regression must fail here, not take the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    return subprocess.Popen([sys.executable, "-m", "procviz", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=small_memory, **kwargs)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_config_that_never_ends_is_refused_at_the_size_limit(device: str) -> None:
    proc = procviz("run", "--config", device, "--quiet")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "limit for configs" in err and "Traceback" not in err


def test_a_named_pipe_config_is_waited_for_and_said(tmp_path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    proc = procviz("run", "--config", str(fifo), "--quiet", cwd=tmp_path)
    assert proc.stderr is not None
    said = proc.stderr.readline()
    assert "waiting for a program to write" in said and "config.json" in said
    writer = threading.Thread(target=fifo.write_text, args=(CONFIG,))
    writer.start()
    out, err = proc.communicate(timeout=120)
    writer.join(10)
    assert proc.returncode == 0, err
    assert "outcome: completed" in out


def test_a_named_pipe_timeline_for_export_is_waited_for_and_said(tmp_path) -> None:
    fifo = tmp_path / "t.json"
    os.mkfifo(fifo)
    proc = procviz("export", str(fifo), "--out", str(tmp_path / "t.csv"))
    assert proc.stderr is not None
    assert "waiting for a program to write" in proc.stderr.readline()
    proc.terminate()
    proc.communicate(timeout=30)


def test_a_config_from_a_shell_pipe_is_read_once_and_said_to_be_wrong_once(tmp_path) -> None:
    script = f'{sys.executable} -m procviz run --quiet --config <(echo \'{{"workers": 0}}\')'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "workers: must be from 1 to" in proc.stderr
    assert "waiting" not in proc.stderr  # (its writer runs already: nothing to wait for)
    ok = subprocess.run(["bash", "-c", f"{sys.executable} -m procviz run --quiet --config <(echo '{CONFIG}')"],
                        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
