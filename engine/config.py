"""The validated run configuration: what to run, on which pool, in which order.

A :class:`RunConfig` is built only through :func:`parse_config` (or ``RunConfig.from_json``),
which checks every field and reports *all* problems at once, each naming its field, so a form can
put the reason next to the widget and the CLI can print them. Nothing starts on an invalid config.
Loading a config never imports the function a workload names; :mod:`procviz.engine.runner` does that when
a run starts and reports a failure to import as a run error.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from procviz.engine.safe_json import InputError, loads_checked
from procviz.engine.specs import APIS, BACKEND_SPECS, BACKENDS, CHUNKLESS_APIS, SCENARIO_BACKEND, SCENARIO_SPECS

if TYPE_CHECKING:  # numpy is imported where a plan is made: parsing a config needs none of it
    import numpy as np

START_METHODS = ("spawn", "forkserver", "fork")
# ``spawn`` everywhere: the engine's parent process has threads, so ``fork`` is unsafe, and spawn
# is the one method on every OS. ``fork`` is allowed on request (the tutorials use it on Linux).
DEFAULT_START_METHOD = "spawn"
ORDERS = ("fifo", "sjf", "ljf", "random")
KINDS = ("cpu", "sleep", "io", "mixed", "function")
DISTRIBUTIONS = ("fixed", "uniform", "normal", "exponential")

MAX_WORKERS = 256
MAX_TASKS = 1_000_000
MAX_DURATION_MS = 3_600_000.0  # one hour per task
MAX_CHUNKSIZE = 1_000_000
MAX_TIMEOUT_S = 86_400.0
MIN_TIMEOUT_S = 0.05
MAX_CONFIG_BYTES = 16 * 1024 * 1024
FUNCTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid field: its dotted name and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ConfigError(ValueError):
    """A configuration that cannot run; ``problems`` lists every invalid field."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid configuration: " + "; ".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Workload:
    """The tasks to run: a built-in kind with a duration distribution, or a named function."""

    kind: str = "cpu"
    count: int = 20
    duration_ms: float = 100.0
    distribution: str = "fixed"
    spread_ms: float = 0.0  # uniform: +/- half-width; normal: standard deviation
    seed: int = 0
    function: str = ""  # "module:function" when kind == "function"
    # Positional arguments per task for kind == "function"; empty: each of the ``count`` tasks
    # takes none (no tuple per task: a million of them cost the parent 8 MB for nothing).
    args: tuple[tuple[Any, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class RunConfig:
    """A complete, validated run configuration (build it with :func:`parse_config`)."""

    backend: str = "pool"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    start_method: str = DEFAULT_START_METHOD
    api: str = "map"
    chunksize: int | None = None  # None: the Pool's own default for the API
    maxtasksperchild: int | None = None
    task_timeout_s: float | None = None
    order: str = "fifo"
    workload: Workload = field(default_factory=Workload)
    scenario: str = ""  # a named cooperation scenario (see engine/scenarios); empty for task runs

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data that :func:`parse_config` turns back into an equal config."""
        args = self.workload.args
        # asdict would deep-copy every task's arguments one by one (seconds at a million tasks).
        data = asdict(replace(self, workload=replace(self.workload, args=())))
        # A function workload whose tasks take no arguments is just its count: null, no list per task.
        no_args = self.workload.kind == "function" and not any(args)
        data["workload"]["args"] = None if no_args else [list(a) for a in args]
        return data

    @staticmethod
    def from_json(data: Any) -> RunConfig:
        """Validate ``data`` (parsed JSON) into a config; raises :class:`ConfigError`."""
        return parse_config(data)

    def with_changes(self, **changes: Any) -> RunConfig:
        """A copy with fields replaced, validated again."""
        return parse_config({**self.to_json(), **changes})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    """Collects problems while reading fields, so every problem is reported, not just the first."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.problems: list[Problem] = []

    def bad(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.prefix + name, message))

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value not in options:
            self.bad(name, f"must be one of {', '.join(options)} (got {value!r})")
            return default
        return value

    def integer(self, name: str, default: int | None, low: int, high: int, optional: bool = False) -> int | None:
        value = self.data.get(name, default)
        if value is None and optional:
            return None
        if not _is_int(value):
            self.bad(name, f"must be a whole number from {low} to {high} (got {value!r})")
            return default
        if not low <= value <= high:
            self.bad(name, f"must be from {low} to {high} (got {value})")
            return default
        return value

    def number(
        self, name: str, default: float | None, low: float, high: float, optional: bool = False,
        low_inclusive: bool = True,
    ) -> float | None:
        value = self.data.get(name, default)
        if value is None and optional:
            return None
        if not _is_number(value) or not math.isfinite(value):
            self.bad(name, f"must be a finite number from {_plain(low)} to {_plain(high)} (got {value!r})")
            return default
        if value < low or value > high or (not low_inclusive and value == low):
            bound = ">" if not low_inclusive else ">="
            self.bad(name, f"must be {bound} {_plain(low)} and <= {_plain(high)} (got {_plain(value)})")
            return default
        return float(value)

    def unknown(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                self.bad(str(key), "is not a known field")


def _parse_workload(data: Any, problems: list[Problem]) -> Workload:
    if not isinstance(data, dict):
        problems.append(Problem("workload", f"must be an object (got {type(data).__name__})"))
        return Workload()
    c = _Checker(data, "workload.")
    c.unknown({f for f in Workload.__dataclass_fields__})
    kind = c.choice("kind", KINDS, "cpu")
    distribution = c.choice("distribution", DISTRIBUTIONS, "fixed")
    duration = c.number("duration_ms", 100.0, 0.0, MAX_DURATION_MS)
    spread = c.number("spread_ms", 0.0, 0.0, MAX_DURATION_MS)
    seed = c.integer("seed", 0, 0, 2**63 - 1)
    function = data.get("function", "")
    args: tuple[tuple[Any, ...], ...] = ()
    if kind == "function":
        if not isinstance(function, str) or not FUNCTION_RE.fullmatch(function):
            c.bad("function", f"must look like module:function, e.g. math:factorial (got {function!r})")
        raw_args = data.get("args", None)
        count: int | None = 0  # invalid args: reported; the count does not matter then
        if raw_args is None:  # tasks without arguments: just a count, nothing per task
            count = c.integer("count", 20, 1, MAX_TASKS)
        elif not isinstance(raw_args, list | tuple) or not all(isinstance(a, list | tuple) for a in raw_args):
            c.bad("args", "must be a list of argument lists, one per task, e.g. [[1], [2]]")
        elif not 1 <= len(raw_args) <= MAX_TASKS:
            c.bad("args", f"must hold from 1 to {MAX_TASKS} argument lists (got {len(raw_args)})")
        else:
            args = tuple(tuple(a) for a in raw_args)
            try:
                json.dumps(args, allow_nan=False)
            except (TypeError, ValueError) as exc:
                c.bad("args", f"must be plain JSON values (numbers, strings, lists): {exc}")
            count = len(args)
        if "count" in data and data["count"] != count and raw_args is not None:
            c.bad("count", f"is {data['count']!r} but args holds {count} argument lists")
    else:
        count = c.integer("count", 20, 1, MAX_TASKS) or 1
        if function not in ("", None):
            c.bad("function", "is only used with kind 'function'")
        if data.get("args"):
            c.bad("args", "is only used with kind 'function'")
    problems.extend(c.problems)
    return Workload(
        kind=kind, count=count or 1, duration_ms=duration or 0.0, distribution=distribution,
        spread_ms=spread or 0.0, seed=seed or 0, function=function if kind == "function" else "", args=args,
    )


def parse_config(data: Any) -> RunConfig:
    """Validate parsed JSON into a :class:`RunConfig`, reporting every invalid field at once."""
    if not isinstance(data, dict):
        raise ConfigError([Problem("config", f"must be a JSON object (got {type(data).__name__})")])
    c = _Checker(data)
    c.unknown(set(RunConfig.__dataclass_fields__))
    backend = c.choice("backend", BACKENDS, "pool")
    workers = c.integer("workers", os.cpu_count() or 1, 1, MAX_WORKERS)
    start_method = c.choice("start_method", START_METHODS, DEFAULT_START_METHOD)
    api = c.choice("api", APIS, "map")
    chunksize = c.integer("chunksize", None, 1, MAX_CHUNKSIZE, optional=True)
    maxtasks = c.integer("maxtasksperchild", None, 1, MAX_TASKS, optional=True)
    # The engine checks timeouts every 20 ms; anything shorter than MIN_TIMEOUT_S cannot be honoured.
    timeout = c.number("task_timeout_s", None, MIN_TIMEOUT_S, MAX_TIMEOUT_S, optional=True)
    order = c.choice("order", ORDERS, "fifo")
    scenario = data.get("scenario", "")
    if scenario is None:
        scenario = ""
    if not isinstance(scenario, str):
        c.bad("scenario", "must be a scenario name (text)")
        scenario = ""
    problems = list(c.problems)
    workload = _parse_workload(data.get("workload", {}), problems)
    if start_method not in _available_start_methods():
        problems.append(Problem("start_method", f"{start_method!r} is not available on this OS"))
    if chunksize is not None and api in CHUNKLESS_APIS:
        problems.append(Problem("chunksize", f"does not apply to {api} (one task per call)"))
    problems.extend(_backend_problems(backend, api, chunksize, maxtasks, timeout))
    if scenario:
        problems.extend(_scenario_problems(scenario, backend, timeout, workload))
    if order in ("sjf", "ljf") and workload.kind == "function":
        problems.append(Problem("order", f"{order} needs known task durations; a function workload has none"))
    if problems:
        raise ConfigError(problems)
    return RunConfig(
        backend=backend, workers=workers or 1, start_method=start_method, api=api, chunksize=chunksize,
        maxtasksperchild=maxtasks, task_timeout_s=timeout, order=order, workload=workload,
        scenario=scenario,
    )


def _backend_problems(
    backend: str, api: str, chunksize: int | None, maxtasks: int | None, timeout: float | None,
) -> list[Problem]:
    """Options a backend cannot honour, each with the reason its spec gives (never silently ignored)."""
    spec = BACKEND_SPECS.get(backend)
    if spec is None:
        return []  # already reported as an unknown backend
    out: list[Problem] = []
    if api not in spec.apis:
        out.append(Problem("api", f"{backend} cannot use {api}: {spec.api_refusal}"))
    if chunksize is not None and not spec.chunks:
        out.append(Problem("chunksize", spec.chunk_refusal))
    if maxtasks is not None and spec.maxtasks_refusal:
        out.append(Problem("maxtasksperchild", spec.maxtasks_refusal))
    if timeout is not None and spec.timeout_refusal:
        out.append(Problem("task_timeout_s", spec.timeout_refusal))
    return out


def _scenario_problems(scenario: str, backend: str, timeout: float | None, workload: Workload) -> list[Problem]:
    """A scenario runs its own processes: check the name and the fields it uses."""
    spec = SCENARIO_SPECS.get(scenario)
    if spec is None:
        return [Problem("scenario", f"must be one of {', '.join(SCENARIO_SPECS)} (got {scenario!r})")]
    out: list[Problem] = []
    if backend != SCENARIO_BACKEND:
        out.append(Problem("backend", f"a scenario starts one Process per role: use backend {SCENARIO_BACKEND}"))
    if timeout is not None:
        out.append(Problem("task_timeout_s", "a scenario's main program runs in this process, which a "
                           "timeout must not terminate; leave it blank"))
    if workload.kind == "function":
        out.append(Problem("workload.kind", "a scenario's roles do built-in work (cpu, sleep, io, mixed)"))
    if not spec.min_count <= workload.count <= MAX_WORKERS + 1:
        out.append(Problem("workload.count", f"{scenario} runs {spec.count_means}: from {spec.min_count} "
                           f"to {MAX_WORKERS + 1} (got {workload.count})"))
    return out


def _available_start_methods() -> tuple[str, ...]:
    import multiprocessing

    return tuple(multiprocessing.get_all_start_methods())


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a JSON config file; problems with the file itself name the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError([Problem(str(p), f"is {size} bytes; the limit is {MAX_CONFIG_BYTES}")])
        # Never more than the limit: a device or a pipe has no size to check first (--config
        # /dev/zero read until the kernel killed procviz, in one C call no Ctrl-C could end).
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError([Problem(str(p), f"is over the {MAX_CONFIG_BYTES}-byte limit for configs")])
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(p), f"cannot be read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(p), f"is not UTF-8 text: {exc}")]) from None
    try:
        data = loads_checked(text)  # depth, huge integers, duplicate keys, NaN: refused by place
    except InputError as exc:  # says what is wrong itself ("is not valid JSON: ...", "workers: ...")
        raise ConfigError([Problem(f"{p}: {exc.where}" if exc.where else str(p), exc.problem)]) from None
    except ValueError as exc:
        raise ConfigError([Problem(str(p), f"is not valid JSON: {exc}")]) from None
    return parse_config(data)


def _plain(x: float) -> str:
    """A bound as a person writes it: 3,600,000 (not 3.6e+06), 0.5, 1e-09."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def fixed_duration_ms(workload: Workload) -> float:
    """Every task's planned duration in a workload of the ``fixed`` distribution (clipped as
    :func:`plan_durations_ms` clips draws)."""
    return min(max(float(workload.duration_ms), 0.0), MAX_DURATION_MS)


def pool_chunksize(config: RunConfig, n_tasks: int) -> int:
    """The chunksize the backend's call will use: the configured one, or its API's own default."""
    if config.chunksize is not None:
        return config.chunksize
    return BACKEND_SPECS[config.backend].default_chunksize(config.api, n_tasks, config.workers)


def plan_durations_ms(workload: Workload) -> np.ndarray:
    """The planned duration of each task in ms (float64), reproducible from the seed.

    Draws are clipped to [0, MAX_DURATION_MS] so that a normal distribution never asks for a
    negative sleep. Function workloads have no planned duration: NaN.
    """
    import numpy as np

    n = workload.count
    if workload.kind == "function":  # one NaN seen n times (read-only): 8 bytes, not 8 per task
        return np.broadcast_to(np.float64(np.nan), n)
    d, s = workload.duration_ms, workload.spread_ms
    if workload.distribution == "fixed":  # no generator: numpy.random costs ~10 ms to import
        return np.full(n, fixed_duration_ms(workload))
    rng = np.random.default_rng(workload.seed)
    if workload.distribution == "uniform":
        out = rng.uniform(d - s, d + s, n)
    elif workload.distribution == "normal":
        out = rng.normal(d, s, n)
    else:
        out = rng.exponential(d, n) if d > 0 else np.zeros(n)
    return np.clip(out, 0.0, MAX_DURATION_MS)


def submission_order(config: RunConfig, durations_ms: np.ndarray) -> np.ndarray:
    """Task ids in the order they are submitted: fifo, shortest first, longest first or shuffled."""
    import numpy as np

    n = len(durations_ms)
    if config.order == "sjf":
        return np.argsort(durations_ms, kind="stable")
    if config.order == "ljf":
        return np.argsort(-durations_ms, kind="stable")
    if config.order == "random":
        return np.random.default_rng(config.workload.seed + 1).permutation(n)
    return np.arange(n)
