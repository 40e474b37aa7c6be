"""The run configuration of ``procviz run``: a file or a preset, with the flags laid over it.

``--config`` takes any of the three JSON shapes a user has at hand: a bare config (the fields
``procviz run --help`` lists), a preset file (``{"name", "description", "config"}``, as in
``resources/presets``), or a timeline written by procviz (native JSON, CSV or Chrome trace:
the config it was recorded with). ``--preset KEY`` takes a shipped preset by name.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from procviz.engine.config import MAX_CONFIG_BYTES, ConfigError, Problem, RunConfig, load_config, parse_config
from procviz.engine.safe_json import loads_checked
from procviz.engine.specs import SCENARIO_SPECS

if TYPE_CHECKING:
    from procviz.engine.presets import Preset

log = logging.getLogger(__name__)
CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig))  # a bare config's top-level names

# flag name on the command line -> config field (None values are "not given")
TOP_FLAGS = {"backend": "backend", "workers": "workers", "start_method": "start_method", "api": "api",
             "chunksize": "chunksize", "maxtasksperchild": "maxtasksperchild", "task_timeout": "task_timeout_s",
             "order": "order", "scenario": "scenario"}
WORKLOAD_FLAGS = {"kind": "kind", "count": "count", "duration_ms": "duration_ms", "distribution": "distribution",
                  "spread_ms": "spread_ms", "seed": "seed", "function": "function"}


def _scenario_sizes_workers(name: object) -> bool:
    """Whether scenario ``name`` gives ``workers`` a meaning (an unknown name: no; its own check says so)."""
    spec = SCENARIO_SPECS.get(name) if isinstance(name, str) else None
    return spec is not None and bool(spec.workers_means)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file or preset (if any) with the flags laid over it, validated; raises ConfigError."""
    data = base_config(args.config, getattr(args, "preset", None))
    data.update({field: getattr(args, flag) for flag, field in TOP_FLAGS.items() if getattr(args, flag) is not None})
    scenario = data.get("scenario")
    if scenario and args.workers is not None and not _scenario_sizes_workers(scenario):
        # A scenario starts one Process per role, whatever ``workers`` says: a flag asking for a
        # number of workers would be recorded and not done. (Where the scenario gives ``workers``
        # a meaning, the Semaphore's seats, the flag sets it.)
        raise ConfigError([Problem("--workers", "a scenario starts one process per role (its roles are fixed): "
                                                "--workers does not apply")])
    workload = dict(data.get("workload", {}))
    workload.update({field: getattr(args, flag) for flag, field in WORKLOAD_FLAGS.items()
                     if getattr(args, flag) is not None})
    if args.args is not None:
        try:
            workload["args"] = loads_checked(args.args)  # depth, huge integers, repeated keys: refused by place
        except ValueError as exc:
            raise ConfigError([Problem("workload.args", str(exc))]) from None
        given = workload["args"]
        if args.count is not None and isinstance(given, list) and args.count != len(given):
            # A task per argument list: a count that says otherwise is dropped silently no more.
            raise ConfigError([Problem("--count", f"is {args.count}, but --args gives {len(given)} argument "
                                                  "lists (a task each): give one of them")])
        if given is not None:  # (null: tasks without arguments, as many as the count says)
            workload.pop("count", None)
    if workload:
        data["workload"] = workload
    return parse_config(data)


def base_config(path: Path | None, preset: str | None) -> dict[str, Any]:
    """The config fields from ``--config`` or ``--preset`` (an empty dict when neither is given)."""
    if path is not None and preset is not None:
        raise ConfigError([Problem("--preset", "cannot be combined with --config: give one of them")])
    if preset is not None:
        from procviz.engine.presets import PresetError, find_preset, load_presets  # only when asked for

        presets, _ = load_presets()
        try:
            chosen = find_preset(preset, presets)
        except PresetError as exc:
            raise ConfigError([Problem("--preset", str(exc))]) from None
        log.info("preset %s: %s", chosen.key, chosen.name)
        return dict(chosen.config)
    if path is not None:
        return config_from_file(path)
    return {}


def config_from_file(path: Path) -> dict[str, Any]:
    """The config held by a bare config, a preset file or a procviz timeline; raises ConfigError."""
    try:
        return load_config(path).to_json()
    except ConfigError as exc:
        as_bare = exc
    if not path.is_file():  # a pipe (`--config <(make_config)`) is read once: as a config only
        raise as_bare
    from procviz.engine.formats.native_write import FORMAT_TAG
    from procviz.engine.presets import PresetError, is_preset, load_preset

    data = _small_json(path)
    # A timeline holds a "config" object too (an empty one when it came from a CSV): it is read as a
    # timeline, whose refusals say what the file is (a preset's would call it a preset).
    if is_preset(data) and data.get("format") != FORMAT_TAG:
        try:
            preset = load_preset(path)
        except PresetError as exc:
            raise ConfigError([Problem(str(path), f"is a preset file that cannot be used: {exc}")]) from None
        log.info("%s is a preset: %s", path, preset.name)
        return dict(preset.config)
    # Not a config: a timeline of any format procviz writes (native JSON, CSV, Chrome trace)?
    config = _timeline_config(path)
    if config is not None:
        log.info("%s is a timeline: using the config it was recorded with", path)
        return config
    raise as_bare


# The first key of the JSON timelines procviz writes (native: "format"; Chrome trace: TRACE_PREFIX's)
# and of a Chrome trace from elsewhere: such a file goes to the timeline readers unparsed here.
TIMELINE_FIRST_KEYS = frozenset({"format", "displayTimeUnit", "traceEvents", "otherData"})
PRESET_KEYS = frozenset({"name", "description", "config", "workers_per_cpu"})
_FIRST_KEY = re.compile(r'\s*\{\s*"((?:[^"\\]|\\.){0,100})"')
_HEAD_BYTES = 4096


def config_file_of(path: Path) -> Preset | RunConfig | None:
    """What a run config file holds, for the window's Open: a preset file's :class:`Preset`, a bare
    config's :class:`RunConfig`; None when the file is not one (a timeline, not a JSON object, not
    a regular file: a pipe is read once, by the timeline readers), for the timeline readers to say
    what it is. Raises ConfigError for a config or preset that cannot be used, naming the file and
    every invalid field, as ``procviz run --config`` does.

    Decided from the file's first key before anything is parsed: a timeline (65 MB at a million
    tasks) is read off the GUI thread by its readers, not parsed here first.
    """
    from procviz.engine.presets import PresetError, is_preset, load_preset

    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CONFIG_BYTES:
            return None
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8-sig", "ignore")
    except OSError:
        return None
    first = _FIRST_KEY.match(head)
    if first is None or first.group(1) in TIMELINE_FIRST_KEYS:
        return None
    data = _small_json(path)
    if data is None:  # not JSON procviz takes: a config's or a preset's is told why, as the CLI does
        if first.group(1) in CONFIG_FIELDS or first.group(1) in PRESET_KEYS:
            return load_config(path)  # (raises ConfigError with the place and the reason)
        return None
    if not isinstance(data, dict) or not TIMELINE_FIRST_KEYS.isdisjoint(data):  # (a timeline's keys in another order)
        return None
    if is_preset(data):
        try:
            return load_preset(path)
        except PresetError as exc:
            raise ConfigError([Problem(str(path), f"is a preset file that cannot be used: {exc}")]) from None
    if not CONFIG_FIELDS.intersection(data):
        return None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError([Problem(f"{path}: {p.field}", p.message) for p in exc.problems]) from None


def _small_json(path: Path) -> Any:
    """The parsed file if it is JSON no bigger than a config may be, else None."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        return loads_checked(path.read_text(encoding="utf-8"))  # a deep document must not recurse here
    except (OSError, ValueError):
        return None


def _timeline_config(path: Path) -> dict[str, Any] | None:
    """The recorded config of a timeline file, or None if the file is not a timeline procviz can read."""
    from procviz.engine.formats import TimelineFileError, read_timeline

    try:
        timeline = read_timeline(path)
    except (TimelineFileError, OSError):
        return None
    if timeline.run is None or not isinstance(timeline.run.config, dict):
        return None
    if not timeline.run.config:  # a CSV keeps the tasks, not the config they came from
        raise ConfigError([Problem(str(path), "is a timeline that does not keep the config it was recorded with "
                                   "(a CSV keeps none): give its JSON timeline or Chrome trace, or a config")])
    return dict(timeline.run.config)
