"""Every backend by config name: the factory that builds it (``engine.runner.make_backend`` looks here).

This module sits above the backends and the scenarios (it imports both; neither imports it), so
no backend needs to know that scenarios exist. What a backend offers lives in its
:class:`~procviz.engine.specs.BackendSpec`; this table only says which class runs it, and a test
checks that every spec has a factory. Factories import their module on first use, so listing
what is available (the GUI's backend combo) costs nothing. A config with a ``scenario`` runs on
the scenario package's own backend (under the ``process`` name: one Process per role).
"""

from __future__ import annotations

from collections.abc import Callable

from procviz.engine.backends.base import Backend
from procviz.engine.config import RunConfig

BackendFactory = Callable[[RunConfig, str], Backend]


def _pool(config: RunConfig, address: str) -> Backend:
    from procviz.engine.backends.pool import PoolBackend

    return PoolBackend(config, address)


def _process_pool_executor(config: RunConfig, address: str) -> Backend:
    from procviz.engine.backends.executor import ProcessPoolExecutorBackend

    return ProcessPoolExecutorBackend(config, address)


def _thread_pool_executor(config: RunConfig, address: str) -> Backend:
    from procviz.engine.backends.threads import ThreadPoolExecutorBackend

    return ThreadPoolExecutorBackend(config, address)


def _process(config: RunConfig, address: str) -> Backend:
    if config.scenario:
        from procviz.engine.scenarios.backend import ScenarioBackend

        return ScenarioBackend(config, address)
    from procviz.engine.backends.process import ProcessBackend

    return ProcessBackend(config, address)


def _serial(config: RunConfig, address: str) -> Backend:
    from procviz.engine.backends.serial import SerialBackend

    return SerialBackend(config, address)


BACKENDS: dict[str, BackendFactory] = {
    "pool": _pool,
    "process_pool_executor": _process_pool_executor,
    "thread_pool_executor": _thread_pool_executor,
    "process": _process,
    "serial": _serial,
}
