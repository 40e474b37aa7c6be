"""Every backend by config name (``engine.runner.make_backend`` looks them up here).

Factories import their module on first use, so listing what is available (the GUI's backend
combo) costs nothing. A config with a ``scenario`` runs on the ``process`` backend name, since a
scenario is a set of processes with a role each (config validation insists on it).
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
