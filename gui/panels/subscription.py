"""Subscribing a Qt object to a Timeline for exactly as long as the object lives."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from procviz.engine.timeline import Timeline, TimelineChange


def subscribe_while_alive(owner: QObject, timeline: Timeline,
                          listener: Callable[[TimelineChange], None]) -> Callable[[], None]:
    """Subscribe ``listener`` and unsubscribe it when ``owner``'s C++ side is destroyed.

    Without this a panel closed or replaced stays in the Timeline's listener list: the Timeline
    keeps the Python wrapper alive and calls into a deleted widget at the next change. The slot
    connected to ``destroyed`` must not reference ``owner`` (gone by then), hence the closure over
    the unsubscribe function only. Returns the unsubscribe function (safe to call twice).
    """
    unsubscribe = timeline.subscribe(listener)
    owner.destroyed.connect(lambda *_: unsubscribe())
    return unsubscribe
