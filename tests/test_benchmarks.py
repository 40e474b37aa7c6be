"""The benchmark command runs end to end (quick mode: tiny sizes; it asserts nothing about time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_compare_quick_runs_and_writes_json(tmp_path):
    out = tmp_path / "compare.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick", "--no-peers",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    keys = [r["workload"]["key"] for r in data["results"]]
    assert keys == ["cpu3000", "cpu3000_cs1", "sleep300", "noop20k", "noop1m", "trivial2", "fn1m", "async100k"]
    assert "(none set)" in proc.stdout  # the apply_async row: no target, no verdict
    for r in data["results"]:
        for name in ("bare", "procviz"):
            c = r["contenders"][name]
            assert c["wall_s"] > 0 and c["cpu_s"] > 0 and c["peak_mib"] > 0
    assert set(data["derived"]) == {"worker_cpu_us_per_task", "parent_cpu_us_per_event"}
    assert [e["label"].split(",")[0] for e in data["exports"]] == [
        "export to CSV (JSON -> CSV)", "export to Chrome trace (JSON -> .trace.json)", "read CSV (CSV -> JSON)"]
    assert all(e["wall_s"] > 0 for e in data["exports"])
    assert "| workload |" in proc.stdout and "load average" in proc.stdout


def _in_git_checkout() -> bool:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              timeout=30).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _in_git_checkout(), reason="--baseline unpacks a git revision of this checkout")
def test_compare_runs_a_baseline_revision_beside_this_procviz(tmp_path):
    out = tmp_path / "compare.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick", "--no-peers",
                           "--only", "trivial2", "--baseline", "HEAD", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(out.read_text())["results"][0]
    base = row["vs_baseline"]["baseline"]
    assert base.startswith("procviz@") and row["contenders"][base]["wall_s"] > 0
    assert row["vs_baseline"]["cpu_ratio"]["median"] > 0
    assert f"this procviz / {base}" in proc.stdout


def test_phases_probes_every_step_of_a_small_run():
    # the probes wrap engine functions by name: one that finds nothing says "(no ...)" and the
    # breakdown silently loses its step
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "phases.py")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "outcome: completed" in proc.stdout
    steps = proc.stderr
    assert "(no " not in steps, steps
    for step in ("CLI imported", "cli.config_from_args <", "helpers started", "Pool creation", "numpy imported",
                 "engine imported", "first task start",
                 "run-only modules imported", "hello from worker", "LiveRun._shutdown <", "run_loop.finish <",
                 "exit (atexit handlers)"):
        assert step in steps, step


def test_machine_own_checks_a_preset_against_the_kernels_count():
    # needs a writable cgroup hierarchy (root in a container): it says "skipped" otherwise
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "machine_own.py"), "scenario_value_array"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if "skipped" in proc.stdout:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| scenario_value_array |"))
    ratio = float(row.split("|")[4])
    assert 0.5 < ratio < 2.0, proc.stdout  # the lane counts the run's processes, not nothing, not twice
