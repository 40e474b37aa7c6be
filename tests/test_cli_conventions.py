"""The command line's conventions: --version, --help, presets, --preset, --config shapes, logging,
and ``module:function`` looked up in the current folder, in the parent and in every worker."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import procviz
from procviz.engine.cli import COMMANDS, EXIT_INVALID
from procviz.engine.formats import read_timeline
from procviz.engine.presets import load_presets
from procviz.gui.app import HEADLESS_COMMANDS, main

# -P: no script folder or cwd on sys.path, like the installed `procviz` command (a plain -c would
# put the current folder first and hide the lookup this file tests).
PROCVIZ = [sys.executable, "-P", "-c", "import sys; from procviz.gui.app import main; sys.exit(main())"]


def procviz_cmd(*args: str, cwd: pathlib.Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PROCVIZ, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_version(capsys) -> None:
    assert main(["procviz", "--version"]) == 0
    assert capsys.readouterr().out.strip() == f"procviz {procviz.__version__}"
    assert main(["procviz", "-V"]) == 0


def test_help_lists_every_command_and_the_exit_codes(capsys) -> None:
    assert HEADLESS_COMMANDS == tuple(COMMANDS), "the window's router and the CLI disagree on the commands"
    with pytest.raises(SystemExit) as exc:
        main(["procviz", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"\n  {name} " in out, name
    assert "exit codes:" in out
    for code in "0123":
        assert f"\n  {code}  " in out
    for name in COMMANDS:
        assert main(["procviz", name, "--help"]) == 0
        assert "usage: procviz " + name in capsys.readouterr().out


def test_presets_lists_every_preset_with_its_name(capsys) -> None:
    assert main(["procviz", "presets"]) == 0
    out = capsys.readouterr().out
    presets, problems = load_presets()
    assert presets and not problems
    for preset in presets:
        line = next(line for line in out.splitlines() if line.split()[:1] == [preset.key])
        assert preset.name in line


def test_an_unknown_preset_exits_2_and_suggests(capsys) -> None:
    assert main(["procviz", "run", "--quiet", "--preset", "scenario_semafore"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "scenario_semafore" in err and "scenario_semaphore" in err
    assert main(["procviz", "run", "--quiet", "--preset", "scenario_semaphore", "--config", "x.json"]) == EXIT_INVALID
    assert "cannot be combined" in capsys.readouterr().err


def test_run_preset_with_flags_over_it(tmp_path) -> None:
    out = tmp_path / "t.json"
    proc = procviz_cmd("run", "--quiet", "--preset", "09_fifo_order", "--count", "3", "--duration-ms", "5",
                       "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    config = json.loads(out.read_text())["config"]
    assert config["order"] == "fifo" and config["workload"]["count"] == 3


def test_config_takes_a_preset_file_and_a_timeline(tmp_path) -> None:
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"name": "mine", "description": "two workers, four sleeps",
                                  "config": {"workers": 2, "workload": {"kind": "sleep", "count": 4,
                                                                        "duration_ms": 5}}}))
    first = tmp_path / "first.json"
    proc = procviz_cmd("run", "--quiet", "--config", str(preset), "--out", str(first))
    assert proc.returncode == 0, proc.stderr
    assert "tasks: 4 " in proc.stdout
    trace = tmp_path / "first.trace.json"
    assert procviz_cmd("export", str(first), "--out", str(trace)).returncode == 0
    for timeline in (first, trace):  # the timeline's recorded config runs again; flags still override
        proc = procviz_cmd("run", "--quiet", "--config", str(timeline), "--count", "2",
                           "--out", str(tmp_path / "again.json"))
        assert proc.returncode == 0, proc.stderr
        assert "tasks: 2 " in proc.stdout
        again = json.loads((tmp_path / "again.json").read_text())["config"]
        assert again["workers"] == 2 and again["workload"]["kind"] == "sleep"  # the recorded config, not defaults
    # A CSV keeps the tasks but not the config: said, not run with the defaults.
    csv = tmp_path / "first.csv"
    assert procviz_cmd("export", str(first), "--out", str(csv)).returncode == 0
    proc = procviz_cmd("run", "--quiet", "--config", str(csv))
    assert proc.returncode == 2 and "does not keep the config" in proc.stderr
    assert "makespan" not in proc.stdout
    # ... nor once made a JSON timeline again (its "config" object is empty: it was taken for a preset's)
    from_csv = tmp_path / "from_csv.json"
    assert procviz_cmd("export", str(csv), "--out", str(from_csv)).returncode == 0
    proc = procviz_cmd("run", "--quiet", "--config", str(from_csv))
    assert proc.returncode == 2 and "does not keep the config" in proc.stderr, proc.stdout + proc.stderr
    assert "makespan" not in proc.stdout


def test_config_that_is_none_of_the_shapes_says_why(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "workers": 2}))
    proc = procviz_cmd("run", "--quiet", "--config", str(bad))
    assert proc.returncode == 2 and "name" in proc.stderr
    broken_preset = tmp_path / "p.json"
    broken_preset.write_text(json.dumps({"name": "x", "config": {"workers": 0}}))
    proc = procviz_cmd("run", "--quiet", "--config", str(broken_preset))
    assert proc.returncode == 2 and "preset" in proc.stderr and "workers" in proc.stderr


def test_verbose_logs_to_stderr_and_quiet_by_default(tmp_path) -> None:
    args = ("run", "--quiet", "--workers", "1", "--kind", "sleep", "--count", "2", "--duration-ms", "5")
    plain = procviz_cmd(*args)
    assert plain.returncode == 0 and "INFO" not in plain.stderr
    loud = procviz_cmd(*args, "-v")
    assert loud.returncode == 0
    assert "procviz: INFO" in loud.stderr and '"workers":1' in loud.stderr
    before = procviz_cmd("-v", *args)  # the option before the command works the same
    assert before.returncode == 0 and "procviz: INFO" in before.stderr


USER_MODULE = """
import os

def work(x):
    return (x * 2, os.getpid())
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
@pytest.mark.parametrize("backend", ["pool", "process_pool_executor", "process"])
def test_a_function_of_the_current_folder_runs_in_every_worker(tmp_path, backend, start_method) -> None:
    (tmp_path / "mytasks_pv.py").write_text(USER_MODULE)
    out = tmp_path / "t.json"
    proc = procviz_cmd("run", "--quiet", "--backend", backend, "--start-method", start_method, "--workers", "2",
                       "--kind", "function", "--function", "mytasks_pv:work", "--args", "[[1], [2], [3], [4]]",
                       "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "done 4" in proc.stdout
    data = json.loads(out.read_text())
    assert len({lane["pid"] for lane in data["lanes"] if lane["kind"] == "process"}) >= 2  # ran in workers


def test_a_module_not_found_says_where_it_looked(tmp_path) -> None:
    proc = procviz_cmd("run", "--quiet", "--kind", "function", "--function", "no_such_mod_pv:work",
                       "--args", "[[1]]", cwd=tmp_path)
    assert proc.returncode == 2
    text = proc.stdout + proc.stderr
    assert "no_such_mod_pv" in text and f"looked in {tmp_path}" in text
    assert f"looked in {tmp_path}, {tmp_path}," not in text  # sys.path's "" is the cwd: said once
    assert "makespan" not in text  # no figures for a run that never ran


def test_image_export_keeps_qt_quiet_even_with_a_dead_display(tmp_path) -> None:
    import os

    timeline = tmp_path / "t.json"
    assert procviz_cmd("run", "--quiet", "--workers", "1", "--kind", "sleep", "--count", "2", "--duration-ms", "5",
                       "--out", str(timeline)).returncode == 0
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":97"  # set but nothing answers: a headless export must not try it (nor abort)
    for name in ("t.svg", "t.png"):
        proc = subprocess.run([*PROCVIZ, "export", str(timeline), "--out", str(tmp_path / name)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stderr == "", proc.stderr  # e.g. no "This plugin does not support propagateSizeHints()"
        assert (tmp_path / name).stat().st_size > 100


HELPER = """
def call(ref, *args):
    from procviz.engine.worker.workloads import resolve
    return resolve(ref)(*args)
"""
WORKER_ONLY = """
import multiprocessing as mp, sys
sys.path.insert(0, sys.argv[2])
import helper_pv
with mp.get_context(sys.argv[1]).Pool(1) as pool:
    print("RESULT", pool.apply(helper_pv.call, ("mytasks_pv:work", 21))[0])
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_worker_finds_the_function_in_its_folder_on_its_own(tmp_path, start_method) -> None:
    # The parent never imported the module, so neither its sys.path nor a forkserver started
    # before it knows the folder: the worker's own lookup must add it.
    helpers = tmp_path / "helpers"
    helpers.mkdir()
    (helpers / "helper_pv.py").write_text(HELPER)
    (tmp_path / "mytasks_pv.py").write_text(USER_MODULE)
    proc = subprocess.run([sys.executable, "-P", "-c", WORKER_ONLY, start_method, str(helpers)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT 42" in proc.stdout


def test_files_in_the_current_folder_do_not_shadow_what_procviz_imports(tmp_path) -> None:
    (tmp_path / "mytasks_pv.py").write_text(USER_MODULE)
    for name in ("orjson", "rich"):  # imported by procviz only when it writes or draws progress
        (tmp_path / f"{name}.py").write_text('raise RuntimeError("a user file shadowed an installed package")\n')
    proc = procviz_cmd("run", "--quiet", "--workers", "1", "--kind", "function", "--function", "mytasks_pv:work",
                       "--args", "[[1]]", "--out", "t.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "t.json").read_text())["format"] == "procviz-timeline"


@pytest.mark.parametrize("argv", [["run", "--count", "abc"], ["run", "--backend", "nope"], ["export"],
                                  ["run", "--bogus"]])
def test_a_refused_argument_is_one_line_exit_2(capsys, argv: list[str]) -> None:
    """One line naming what is wrong (not argparse's usage block above it), exit 2."""
    try:
        code = main(["procviz", *argv])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "error:" in err and "--help" in err, err


def test_a_count_that_disagrees_with_the_args_is_refused_not_dropped() -> None:
    fn = ["--kind", "function", "--function", "procviz.engine.worker.demo_tasks:square"]
    proc = procviz_cmd("run", "--quiet", *fn, "--count", "5", "--args", "[[1], [2]]")
    assert proc.returncode == 2 and "--count" in proc.stderr and "2 argument lists" in proc.stderr
    assert "makespan" not in proc.stdout
    proc = procviz_cmd("run", "--quiet", *fn, "--count", "2", "--args", "[[1], [2]]")
    assert proc.returncode == 0 and "tasks: 2 " in proc.stdout


def test_workers_for_a_scenario_is_refused_not_recorded_and_ignored() -> None:
    proc = procviz_cmd("run", "--quiet", "--preset", "scenario_lock_critical_section", "--workers", "1")
    assert proc.returncode == 2 and "--workers" in proc.stderr and "one process per role" in proc.stderr
    assert "makespan" not in proc.stdout


def test_workers_for_the_semaphore_sets_its_seats(tmp_path) -> None:
    """The one scenario where ``workers`` means something (the Semaphore's seats: the form names the
    field "Seats") takes the flag as a config file's ``workers`` (it was refused)."""
    out = tmp_path / "t.json"
    proc = procviz_cmd("run", "--quiet", "--preset", "scenario_semaphore", "--workers", "1", "--count", "3",
                       "--duration-ms", "20", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tl = read_timeline(out)
    assert tl.run.config["workers"] == 1 and "Semaphore(1)" in tl.texts[0].message, tl.texts[0]


def test_args_null_keeps_the_count() -> None:
    """``--args null``: tasks without arguments, as many as ``--count`` says (it ran 20)."""
    proc = procviz_cmd("run", "--quiet", "--kind", "function", "--function", "procviz.engine.worker.demo_tasks:noop",
                       "--count", "3", "--args", "null")
    assert proc.returncode == 0 and "tasks: 3 " in proc.stdout, proc.stdout + proc.stderr
