"""``procviz run`` starts its helper processes from the raw command line, before the CLI is imported
(issue 10: the fixed cost of a run).

The guardian and multiprocessing's resource tracker are Python processes (~15 and ~30-60 ms of CPU
to boot). Started before the CLI's imports and the config's parsing, they boot on the core the
parent leaves idle then, instead of beside the Pool's booting workers. What the flags cannot tell
(a config file or a preset may choose another backend) waits for the parsed config, as before.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from procviz.engine import config, run_helpers

# Runs the ``procviz`` command's entry point in a fresh process and notes, at the moment the CLI
# module is first imported, which helper processes already exist.
PROBE = """
import importlib.abc, json, sys

seen = {}

def helpers():
    guardian = sys.modules.get("procviz.engine.guardian")
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    return {"guardian": bool(guardian and guardian.guardian.pid),
            "tracker": bool(tracker and tracker._resource_tracker._pid)}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "procviz.engine.cli" and "at_cli_import" not in seen:
            seen["at_cli_import"] = helpers()
        return None

sys.meta_path.insert(0, Watch())
from procviz.gui.app import main
seen["code"] = main(["procviz", *sys.argv[1:]])
seen["at_end"] = helpers()
print("PROBE " + json.dumps(seen))
"""
TRIVIAL_RUN = ("run", "--workers", "2", "--kind", "cpu", "--count", "2", "--duration-ms", "0", "--quiet")


def _probe(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    line = next((line for line in proc.stdout.splitlines() if line.startswith("PROBE ")), None)
    assert line is not None, proc.stderr[-3000:]
    return json.loads(line.removeprefix("PROBE "))


def test_a_pool_run_has_its_helpers_before_the_cli_is_imported() -> None:
    seen = _probe(*TRIVIAL_RUN)
    assert seen["code"] == 0
    assert seen["at_cli_import"] == {"guardian": True, "tracker": True}


def test_a_run_from_a_preset_starts_the_guardian_early_and_the_tracker_once_its_config_is_known() -> None:
    seen = _probe("run", "--preset", "no-such-preset", "--quiet")
    assert seen["code"] == 2  # the preset is refused after parsing: nothing but the guardian was started
    assert seen["at_cli_import"] == {"guardian": True, "tracker": False}
    assert seen["at_end"] == {"guardian": True, "tracker": False}


@pytest.mark.parametrize("args", [("presets",), ("run", "--help"), ("--version",)])
def test_other_commands_start_no_helper(args: tuple[str, ...]) -> None:
    seen = _probe(*args)
    assert seen["code"] == 0
    assert seen["at_end"] == {"guardian": False, "tracker": False}


@pytest.mark.parametrize(("argv", "expected"), [
    (["run"], ("spawn", "pool", False)),
    (["-v", "run", "--quiet"], ("spawn", "pool", False)),
    (["run", "--backend", "threads"], ("spawn", "threads", False)),
    (["run", "--backend=process_pool_executor", "--start-method=forkserver"],
     ("forkserver", "process_pool_executor", False)),
    (["run", "--start", "fork"], ("fork", "pool", False)),  # argparse takes unambiguous abbreviations
    (["run", "--config", "c.json"], ("spawn", "pool", True)),
    (["run", "--preset=cpu-bound"], ("spawn", "pool", True)),
    (["export", "t.json", "--out", "t.csv"], None),
    (["presets"], None),
    (["run", "-h"], None),
    ([], None),
])
def test_the_run_options_read_from_the_flags(argv: list[str], expected: tuple[str, str, bool] | None) -> None:
    assert run_helpers._run_options(argv) == expected  # noqa: SLF001


@pytest.mark.parametrize(("argv", "calls"), [
    (["run", "--kind", "sleep"], [("spawn", "pool")]),
    (["run", "--backend", "threads"], [("spawn", "threads")]),  # start_helpers leaves the tracker out
    (["run", "--config", "c.json"], [("fork", "")]),  # the guardian only: the file chooses the backend
    (["presets"], []),
])
def test_start_for_command_line_asks_for_what_the_flags_tell(monkeypatch, argv: list[str],
                                                              calls: list[tuple[str, str]]) -> None:
    made: list[tuple[str, str]] = []
    monkeypatch.setattr(run_helpers, "start_helpers", lambda method, backend: made.append((method, backend)))
    run_helpers.start_for_command_line(argv)
    assert made == calls


def test_a_failure_to_start_them_early_is_not_an_error(monkeypatch) -> None:
    def broken(method: str, backend: str) -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(run_helpers, "start_helpers", broken)
    run_helpers.start_for_command_line(["run"])  # the run starts them later itself, and says what fails


def test_the_defaults_are_the_configs() -> None:
    defaults = config.parse_config({})
    assert (run_helpers.DEFAULT_BACKEND, run_helpers.DEFAULT_START_METHOD) == (defaults.backend,
                                                                              defaults.start_method)
