"""The presets the window's menu and picker offer: the engine's, re-exported under the GUI's name.

Presets are read by :mod:`procviz.engine.presets` (no Qt), which the command line uses too.
"""

from __future__ import annotations

from procviz.engine.presets import (
    DEFAULT_GROUP,
    GROUPS,
    Preset,
    PresetError,
    load_preset,
    load_presets,
    presets_dir,
)

__all__ = ["DEFAULT_GROUP", "GROUPS", "Preset", "PresetError", "load_preset", "load_presets", "presets_dir"]
