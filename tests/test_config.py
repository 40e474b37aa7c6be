"""Every config field is validated, with a message naming the field; nothing runs on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from procviz.engine.config import ConfigError, RunConfig, load_config, parse_config, plan_durations_ms, submission_order


def problems_of(data: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return {p.field: p.message for p in info.value.problems}


@pytest.mark.parametrize("workers", [0, -1, 2.5, True, "2", 100000, None])
def test_bad_workers_are_refused_by_name(workers) -> None:
    assert "workers" in problems_of({"workers": workers})


@pytest.mark.parametrize(
    ("field", "value"),
    [("chunksize", 0), ("maxtasksperchild", 0), ("task_timeout_s", 0), ("task_timeout_s", -1.0),
     ("api", "mapp"), ("start_method", "clone"), ("order", "lifo"), ("backend", "gpu")],
)
def test_bad_pool_fields(field: str, value) -> None:
    assert field in problems_of({field: value})


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf"), 1e12, "100"])
def test_bad_durations(duration) -> None:
    assert "workload.duration_ms" in problems_of({"workload": {"duration_ms": duration}})


@pytest.mark.parametrize("count", [0, -5, 1_000_001, 3.5])
def test_task_count_limits(count) -> None:
    assert "workload.count" in problems_of({"workload": {"count": count}})


@pytest.mark.parametrize("function", ["math", "math:", ":f", "a b:c", "os.path:join;rm", 42])
def test_function_must_be_module_colon_function(function) -> None:
    assert "workload.function" in problems_of({"workload": {"kind": "function", "function": function, "args": [[1]]}})


def test_all_problems_are_reported_at_once() -> None:
    found = problems_of({"workers": 0, "chunksize": 0, "bogus": 1, "workload": {"count": 0}})
    assert set(found) == {"workers", "chunksize", "bogus", "workload.count"}


def test_round_trip_through_json() -> None:
    cfg = parse_config({"workers": 3, "api": "imap", "chunksize": 2, "order": "sjf",
                        "workload": {"kind": "mixed", "count": 7, "distribution": "normal", "spread_ms": 3}})
    assert RunConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg


def test_default_start_method_is_never_fork() -> None:
    assert parse_config({}).start_method != "fork"


def test_durations_are_reproducible_and_never_negative() -> None:
    w = parse_config({"workload": {"count": 1000, "distribution": "normal", "duration_ms": 5, "spread_ms": 50,
                                   "seed": 7}}).workload
    a, b = plan_durations_ms(w), plan_durations_ms(w)
    assert np.array_equal(a, b) and a.min() >= 0


def test_submission_orders() -> None:
    cfg = parse_config({"order": "sjf", "workload": {"count": 50, "distribution": "uniform", "spread_ms": 90}})
    d = plan_durations_ms(cfg.workload)
    assert np.all(np.diff(d[submission_order(cfg, d)]) >= 0)
    ljf = cfg.with_changes(order="ljf")
    assert np.all(np.diff(d[submission_order(ljf, d)]) <= 0)
    shuffled = submission_order(cfg.with_changes(order="random"), d)
    assert sorted(shuffled.tolist()) == list(range(50))


def test_sjf_needs_known_durations() -> None:
    assert "order" in problems_of({"order": "sjf", "workload": {"kind": "function", "function": "m:f", "args": [[1]]}})


def test_load_config_names_the_file(tmp_path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"workers": NaN}')
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("content", ['{"workers": 0}', "{not json", '{"workload": {"count": -1}}', "[]"])
def test_cli_exits_2_on_bad_config(tmp_path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "procviz.engine.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "invalid" in proc.stderr
