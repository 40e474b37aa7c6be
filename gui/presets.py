"""Scenario presets: JSON files in ``resources/presets`` that fill the forms.

Each file is ``{"name": ..., "description": ..., "config": {...}}``, optionally with
``"workers_per_cpu": k`` to size the pool from this machine (k x CPU count, e.g. to have more
workers than cores wherever the preset is opened). Presets are listed in file-name order, so
files are numbered to keep pairs that compare two runs next to each other, and grouped by the
file name's prefix (``scenario_``, ``backend_``, anything else: the Pool tutorials).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procviz.engine.config import MAX_WORKERS, ConfigError, parse_config

GROUPS = (
    ("scenario_", "Cooperating processes: Queue, Pipe, Lock, Manager, …"),
    ("backend_", "Executors, threads, a Process per task, orders"),
)
DEFAULT_GROUP = "multiprocessing.Pool tutorials"


def resources_dir() -> Path:
    """The ``procviz.resources`` package folder (a checkout, an editable install or a wheel)."""
    from importlib.resources import files

    return Path(str(files("procviz.resources")))


def presets_dir() -> Path:
    """Where the preset JSON files live."""
    return resources_dir() / "presets"


@dataclass(frozen=True, slots=True)
class Preset:
    """A named configuration with a sentence saying what it shows."""

    name: str
    description: str
    config: dict[str, Any]
    path: Path

    @property
    def group(self) -> str:
        """The menu section it belongs to, from its file name's prefix."""
        for prefix, title in GROUPS:
            if self.path.name.startswith(prefix):
                return title
        return DEFAULT_GROUP


class PresetError(ValueError):
    """A preset file that cannot be used; the message names the file and the reason."""


def load_preset(path: Path, cpu_count: int | None = None) -> Preset:
    """Read and validate one preset file; raises :class:`PresetError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PresetError(f"{path.name}: cannot be read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
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
    return Preset(name=str(data.get("name") or path.stem), description=str(data.get("description", "")),
                  config=config, path=path)


def load_presets(folder: Path | None = None) -> tuple[list[Preset], list[str]]:
    """Every valid preset in ``folder`` (default: the shipped ones), and the problems of the others."""
    folder = folder or presets_dir()
    presets: list[Preset] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            presets.append(load_preset(path))
        except PresetError as exc:
            problems.append(str(exc))
    order = [DEFAULT_GROUP, *(title for _, title in GROUPS)]
    presets.sort(key=lambda p: order.index(p.group))  # stable: file order within a group
    return presets, problems
