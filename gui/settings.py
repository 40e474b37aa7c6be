"""Where the app keeps what it remembers (last config, recent files, window layout).

Everything goes through one :class:`QSettings` object that the window is handed, so tests can
give it a throwaway INI file and never touch the user's real settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

ORGANIZATION = "procviz"
APPLICATION = "procviz"
MAX_RECENT = 8


def make_settings(path: str | Path | None = None) -> QSettings:
    """The user's settings, or an INI file at ``path`` (tests, portable installs)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def read_json(settings: QSettings, key: str) -> Any:
    """A JSON value stored under ``key``, or None when absent or unreadable."""
    raw = settings.value(key)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # a hand-edited file: nested too deep is unreadable too
        return None


def write_json(settings: QSettings, key: str, value: Any) -> None:
    """Store ``value`` as JSON text (QSettings' own typing of nested values differs per format)."""
    settings.setValue(key, json.dumps(value))


def recent_files(settings: QSettings) -> list[str]:
    """Recently opened or saved timeline files, newest first."""
    value = read_json(settings, "recent_files")
    return [str(p) for p in value if isinstance(p, str)] if isinstance(value, list) else []


def remember_file(settings: QSettings, path: str | Path) -> list[str]:
    """Put ``path`` first in the recent files list; returns the new list."""
    text = str(Path(path).resolve())
    files = [text] + [p for p in recent_files(settings) if p != text]
    files = files[:MAX_RECENT]
    write_json(settings, "recent_files", files)
    return files


THEME_KEY = "view/theme"


def remembered_theme(settings: QSettings, themes: tuple[str, ...]) -> str:
    """The theme chosen last in the View menu ("system" when none, or an unknown one, is stored)."""
    value = settings.value(THEME_KEY)
    return value if isinstance(value, str) and value in themes else "system"


def remember_theme(settings: QSettings, theme: str) -> None:
    """Keep ``theme`` for the next start."""
    settings.setValue(THEME_KEY, theme)


def remembered_folds(settings: QSettings) -> dict[str, bool]:
    """Which form sections were folded (by title)."""
    value = read_json(settings, "view/folded_sections")
    return {str(k): bool(v) for k, v in value.items()} if isinstance(value, dict) else {}


def remember_fold(settings: QSettings, title: str, folded: bool) -> None:
    """Keep whether the form section ``title`` is folded."""
    folds = remembered_folds(settings)
    folds[title] = folded
    write_json(settings, "view/folded_sections", folds)
