"""One BackendSpec per backend: the registry, validation, planning and the form all follow it."""

from __future__ import annotations

import importlib

import pytest

from procviz.engine.config import BACKENDS, ConfigError, parse_config, pool_chunksize
from procviz.engine.registry import BACKENDS as FACTORIES
from procviz.engine.specs import BACKEND_SPECS, CHUNKLESS_APIS, SCENARIO_SPECS


def test_every_backend_spec_has_a_factory_and_nothing_else_does() -> None:
    assert set(FACTORIES) == set(BACKEND_SPECS) == set(BACKENDS)


def test_every_scenario_names_a_main_program_that_exists() -> None:
    for spec in SCENARIO_SPECS.values():
        module, function = spec.main.split(":")
        assert callable(getattr(importlib.import_module(module), function)), spec.main


@pytest.mark.parametrize("name", sorted(BACKEND_SPECS))
def test_validation_refuses_what_the_spec_refuses_with_its_reason(name: str) -> None:
    spec = BACKEND_SPECS[name]
    api = next((a for a in spec.apis if a not in CHUNKLESS_APIS), spec.apis[0])
    for field, value, refusal in (("chunksize", 2, "" if spec.chunks else spec.chunk_refusal),
                                  ("maxtasksperchild", 2, spec.maxtasks_refusal),
                                  ("task_timeout_s", 1.0, spec.timeout_refusal)):
        data = {"backend": name, "api": api, field: value}
        if not refusal:
            parse_config(data)
            continue
        with pytest.raises(ConfigError) as caught:
            parse_config(data)
        assert [str(p) for p in caught.value.problems] == [f"{field}: {refusal}"]
    for other in {"map", "submit", "apply_async"} - set(spec.apis):
        with pytest.raises(ConfigError, match=spec.api_refusal.replace("(", r"\(").replace(")", r"\)")):
            parse_config({"backend": name, "api": other})


def test_planning_uses_the_specs_default_chunksize() -> None:
    pool = parse_config({"backend": "pool", "workers": 4, "api": "map", "workload": {"count": 100}})
    assert pool_chunksize(pool, 100) == 7  # ceil(100 / (4 x 4)), as Pool.map would
    executor = parse_config({"backend": "process_pool_executor", "workers": 4, "workload": {"count": 100}})
    assert pool_chunksize(executor, 100) == 1  # Executor.map's default
    assert pool_chunksize(pool.with_changes(chunksize=5), 100) == 5
