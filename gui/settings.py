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
    except ValueError:
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
