"""The window's actions (menu items, toolbar buttons, shortcuts), made in one place.

Shortcuts: Ctrl+R run, Esc or Ctrl+. stop, Ctrl+O open, Ctrl+S save, Ctrl+E export (the
native format's dialog lets you pick any format), Ctrl+Shift+F follow the live edge, Ctrl+0 zoom
to fit, Ctrl+Q quit.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from procviz.gui.icons import run_icon, stop_icon


@dataclass(slots=True)
class WindowActions:
    """Every action of the main window."""

    run: QAction
    stop: QAction
    open: QAction
    save: QAction
    export: QAction
    quit: QAction
    follow: QAction
    zoom_fit: QAction
    find: QAction
    shortcuts: QAction
    about: QAction


def _action(parent: QWidget, text: str, shortcuts: list[QKeySequence | QKeySequence.StandardKey | str], tip: str,
            icon: QStyle.StandardPixmap | QIcon | None = None) -> QAction:
    action = QAction(text, parent)
    action.setShortcuts([s if isinstance(s, QKeySequence) else QKeySequence(s) for s in shortcuts])
    keys = ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in shortcuts)
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
    action.setStatusTip(tip)
    if isinstance(icon, QIcon):
        action.setIcon(icon)
    elif icon is not None:
        action.setIcon(parent.style().standardIcon(icon))
    return action


def make_actions(parent: QWidget) -> WindowActions:
    """Create the actions, owned by ``parent`` (the window connects them)."""
    sp = QStyle.StandardPixmap
    follow = _action(parent, "&Follow live edge", ["Ctrl+Shift+F"],
                     "Keep the newest events in view during a run")
    follow.setCheckable(True)
    # Off by default: the chart then keeps fitting the whole run as it grows, which suits the
    # short runs of the presets; follow is for long runs once the user has zoomed in.
    follow.setChecked(False)
    return WindowActions(
        run=_action(parent, "&Run", ["Ctrl+R"], "Run the configured pool and workload", run_icon()),
        stop=_action(parent, "&Stop", ["Esc", "Ctrl+."], "Stop the run: unfinished tasks are cancelled",
                     stop_icon()),
        open=_action(parent, "&Open…", [QKeySequence.StandardKey.Open],
                     "Open a saved timeline, or a run config or preset file into the forms",
                     sp.SP_DialogOpenButton),
        save=_action(parent, "&Save timeline…", [QKeySequence.StandardKey.Save],
                     "Save the timeline as procviz JSON (re-openable)", sp.SP_DialogSaveButton),
        export=_action(parent, "&Export…", ["Ctrl+E"], "Export as JSON, CSV, Chrome trace, PNG or SVG"),
        quit=_action(parent, "&Quit", [QKeySequence.StandardKey.Quit], "Stop any run and quit"),
        follow=follow,
        zoom_fit=_action(parent, "&Zoom to fit", ["Ctrl+0"], "Show the whole run"),
        find=_action(parent, "&Find tasks…", [QKeySequence.StandardKey.Find],
                     "Find tasks by id, state or worker; matches are outlined in the chart"),
        shortcuts=_action(parent, "&Keyboard shortcuts", ["F1"], "List the keyboard shortcuts"),
        about=_action(parent, "&About procviz", [], "What procviz is"),
    )
