"""Presets: named configurations shipped in ``procviz.resources/presets`` (or any folder).

Each file is ``{"name": ..., "description": ..., "config": {...}}``, optionally with
``"workers_per_cpu": k`` to size the pool from this machine (k x CPU count, e.g. to have more
workers than cores wherever the preset is opened). A preset's *key* is its file name without
``.json`` (what ``procviz run --preset KEY`` takes). Presets are listed in file-name order, so
files are numbered to keep pairs that compare two runs next to each other, and grouped by the
file name's prefix (``scenario_``, ``backend_``, anything else: the Pool tutorials).

Both the window (Presets menu) and the command line (``--preset``, ``procviz presets``) read
presets through this module; it imports no Qt.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any

from procviz.engine.config import MAX_WORKERS, ConfigError, parse_config
from procviz.resources import PRESETS, resource

GROUPS = (
    ("scenario_", "Cooperating processes: Queue, Pipe, Lock, Manager, …"),
    ("backend_", "Executors, threads, a Process per task, orders"),
)
DEFAULT_GROUP = "multiprocessing.Pool tutorials"
SUFFIX = ".json"


def presets_dir() -> Traversable:
    """Where the shipped preset files live (a folder of a checkout, an install or a wheel)."""
    return resource(PRESETS)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named configuration with a sentence saying what it shows."""

    name: str
    description: str
    config: dict[str, Any]
    path: Traversable

    @property
    def key(self) -> str:
        """The file name without ``.json``: what ``--preset`` takes."""
        return self.path.name.removesuffix(SUFFIX)

    @property
    def group(self) -> str:
        """The menu section it belongs to, from its file name's prefix."""
        for prefix, title in GROUPS:
            if self.path.name.startswith(prefix):
                return title
        return DEFAULT_GROUP


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and the reason."""


def load_preset(path: Traversable, cpu_count: int | None = None) -> Preset:
    """Read and validate one preset file; raises :class:`PresetError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PresetError(f"{path.name}: cannot be read: {exc}") from None
    if not is_preset(data):
        raise PresetError(f"{path.name}: must be an object with a 'config' object")
    config = dict(data["config"])
    per_cpu = data.get("workers_per_cpu")
    if isinstance(per_cpu, int | float) and not isinstance(per_cpu, bool) and per_cpu > 0:
        cpus = cpu_count or os.cpu_count() or 1
        config["workers"] = max(1, min(MAX_WORKERS, round(per_cpu * cpus)))
    try:
        parse_config(config)
    except ConfigError as exc:
        raise PresetError(f"{path.name}: {exc}") from None
    return Preset(name=str(data.get("name") or path.name.removesuffix(SUFFIX)),
                  description=str(data.get("description", "")), config=config, path=path)


def is_preset(data: Any) -> bool:
    """Whether parsed JSON has a preset's shape (an object holding a ``config`` object)."""
    return isinstance(data, dict) and isinstance(data.get("config"), dict)


def load_presets(folder: Traversable | None = None) -> tuple[list[Preset], list[str]]:
    """Every valid preset in ``folder`` (default: the shipped ones), and the problems of the others."""
    folder = folder or presets_dir()
    presets: list[Preset] = []
    problems: list[str] = []
    files = sorted((f for f in folder.iterdir() if f.name.endswith(SUFFIX) and f.is_file()), key=lambda f: f.name)
    for path in files:
        try:
            presets.append(load_preset(path))
        except PresetError as exc:
            problems.append(str(exc))
    order = [DEFAULT_GROUP, *(title for _, title in GROUPS)]
    presets.sort(key=lambda p: order.index(p.group))  # stable: file order within a group
    return presets, problems


def find_preset(wanted: str, presets: list[Preset]) -> Preset:
    """The preset whose key (or, ignoring case, whose name) is ``wanted``; raises :class:`PresetError`."""
    for preset in presets:
        if wanted in (preset.key, preset.key + SUFFIX) or wanted.casefold() == preset.name.casefold():
            return preset
    close = difflib.get_close_matches(wanted, [p.key for p in presets], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise PresetError(f"no preset named {wanted!r}{hint} ('procviz presets' lists them)")
