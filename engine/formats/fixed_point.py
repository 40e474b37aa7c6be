"""Exact decimal text for integer nanoseconds: ``1234567890 ns`` -> ``"1.234567890"`` s, and back.

The CSV stores seconds with 9 decimals and milliseconds with 6, computed from the int64
nanoseconds with integer arithmetic only, so reading a file gives back the very same
nanoseconds (floats would round beyond ~100 days of nanoseconds, and print ``1e-05``).
"""

from __future__ import annotations

import re

import numpy as np

SECONDS = 9  # decimals of a value in seconds, from ns
MILLIS = 6  # decimals of a value in milliseconds, from ns


def format_fixed(values: np.ndarray, digits: int, known: np.ndarray) -> list[str]:
    """``values`` (int64 ns) as decimal text with ``digits`` decimals; ``""`` where not ``known``."""
    scale = 10**digits
    mag = np.abs(values.astype(np.int64))
    whole, frac = np.divmod(mag, scale)
    template = f"%d.%0{digits}d"
    out = [template % pair for pair in zip(whole.tolist(), frac.tolist(), strict=True)]
    for i in np.flatnonzero(values < 0).tolist():
        out[i] = "-" + out[i]
    if not known.all():
        for i in np.flatnonzero(~known).tolist():
            out[i] = ""
    return out


def fixed_pattern(digits: int, signed: bool, exact: bool = False) -> re.Pattern[str]:
    """A regex for one decimal cell: up to ``digits`` decimals, or exactly ``digits`` when ``exact``
    (how format_fixed writes them)."""
    sign = "-?" if signed else ""
    if exact:
        return re.compile(rf"{sign}[0-9]{{1,19}}\.[0-9]{{{digits}}}")
    return re.compile(rf"{sign}[0-9]{{1,19}}(?:\.[0-9]{{1,{digits}}})?")


def parse_fixed(text: str, digits: int) -> int:
    """The integer count of 10**-digits units in ``text`` (already matched by fixed_pattern)."""
    whole, _, frac = text.partition(".")
    return int(whole + frac.ljust(digits, "0"))
