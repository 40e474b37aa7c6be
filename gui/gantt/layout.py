"""Where things sit inside a lane's row (row ``i`` spans y = i .. i+1, lane 0 at the top).

Shared by the painter (to place rectangles) and by hit-testing (to tell which band the mouse
is over), so the two can never disagree.
"""

from __future__ import annotations

BAR_TOP = 0.10  # task bars
BAR_HEIGHT = 0.56
SPAN_TOP = 0.68  # wait-span marks, a thin line between bars and strip
SPAN_HEIGHT = 0.06
STRIP_TOP = 0.76  # the worker's OS state over time
STRIP_HEIGHT = 0.16

# Rows are never drawn taller than this (in pixels) by zoom-to-fit: a run with two workers
# should not look like two giant slabs.
MAX_ROW_PX = 240.0


def band_at(frac: float) -> str:
    """Which band a fractional position inside a row falls in: "bar", "span", "strip" or ""."""
    if BAR_TOP - 0.05 <= frac < SPAN_TOP:
        return "bar"
    if SPAN_TOP <= frac < STRIP_TOP:
        return "span"
    if STRIP_TOP <= frac < STRIP_TOP + STRIP_HEIGHT + 0.05:
        return "strip"
    return ""
