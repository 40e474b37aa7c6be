"""``procviz run`` end to end in a subprocess: exit codes, summary, signals, no orphans."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest
from engine_helpers import wait_gone

RUN = [sys.executable, "-m", "procviz.engine.cli", "run"]


def test_run_writes_a_summary_and_exits_0(tmp_path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"workers": 2, "workload": {"kind": "sleep", "count": 6, "duration_ms": 20}}))
    proc = subprocess.run([*RUN, "--config", str(cfg), "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "makespan:" in proc.stdout and "speedup" in proc.stdout and "done 6" in proc.stdout


def test_flags_override_the_config_file(tmp_path) -> None:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"workers": 2, "workload": {"kind": "sleep", "count": 50, "duration_ms": 20}}))
    proc = subprocess.run([*RUN, "--config", str(cfg), "--count", "3", "--quiet"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "tasks: 3 " in proc.stdout


def test_failed_tasks_exit_1() -> None:
    proc = subprocess.run([*RUN, "--quiet", "--workers", "2", "--kind", "function", "--function",
                           "procviz.engine.worker.demo_tasks:fail_if", "--args", "[[1], [3], [5]]"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed 1" in proc.stdout


@pytest.mark.parametrize("args", [["--workers", "0"], ["--workers", "two"], ["--chunksize", "0"],
                                  ["--kind", "function", "--function", "nope"], ["--args", "[[1]"],
                                  ["--config", "/nonexistent/c.json"]])
def test_invalid_input_exits_2_with_a_message(args: list[str]) -> None:
    proc = subprocess.run([*RUN, "--quiet", *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip()


def test_unimportable_function_exits_2() -> None:
    proc = subprocess.run([*RUN, "--quiet", "--kind", "function", "--function", "no_such_module_xyz:f",
                           "--args", "[[1]]"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no_such_module_xyz" in proc.stdout + proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_run_cleanly_with_exit_3(sig: int) -> None:
    # (SIGINT not ignored, as from a terminal: a background job has it ignored, and procviz keeps it so)
    proc = subprocess.Popen([*RUN, "--workers", "2", "--kind", "sleep", "--count", "4", "--duration-ms", "30000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.1)
        # spawn workers are children of the CLI (the resource tracker too, which is not a worker)
        workers = {c.pid for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())}
    time.sleep(0.5)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, out + err
    assert "cancelled 4" in out
    assert not wait_gone(workers)


def test_a_run_started_with_sigint_ignored_keeps_it_ignored() -> None:
    """A shell's background job (``procviz run ... &`` in a script) is started with SIGINT ignored,
    so that the Ctrl-C meant for the script leaves it running: procviz kept that only while it
    imported, then a SIGINT stopped the run (exit 3) or not, by when it came."""
    proc = subprocess.Popen([*RUN, "--workers", "2", "--kind", "sleep", "--count", "4", "--duration-ms", "1500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(parent.children()) < 3:  # the run is on: its workers are up
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "done 4" in out


def test_run_out_picks_the_format_from_the_extension(tmp_path) -> None:
    from procviz.engine.formats import read_timeline

    for name in ("t.json", "t.csv", "t.trace.json"):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-c", "import sys; from procviz.gui.app import main; sys.exit(main())",
                               "run", "--quiet", "--workers", "2", "--kind", "sleep", "--count", "3",
                               "--duration-ms", "10", "--out", str(out)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert read_timeline(out).n_tasks == 3
    assert (tmp_path / "t.csv").read_text().startswith("id,state,reason")
    assert '"traceEvents"' in (tmp_path / "t.trace.json").read_text()[:4000]


def test_images_without_the_gui_entry_point_are_refused_before_running(tmp_path) -> None:
    proc = subprocess.run([*RUN, "--quiet", "--kind", "sleep", "--count", "2", "--out", str(tmp_path / "t.png")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "GUI" in proc.stderr
    assert "makespan" not in proc.stdout  # nothing ran
