"""Text rows built from whole numpy columns at once: the writers' fast path for a million rows.

A *field* is a ``uint8`` matrix with one row per output row, holding that row's bytes for one cell
padded with NUL bytes anywhere (leading or trailing). :func:`join_fields` lays the fields of a row
side by side and deletes every NUL (``bytes.translate``, a C loop), which leaves exactly the
cells' text. This works because no file procviz writes contains a NUL byte: JSON escapes control
characters, and the CSV writer replaces NUL by U+2400 (csv_write.neutralise).

Numbers are turned into digits with a few numpy passes per column (one divmod per digit), never a
Python object per value, so formatting a column of a million integers costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ZERO = ord("0")


def _digits(mag: np.ndarray, pad: bool) -> np.ndarray:
    """Decimal digits of non-negative int64 ``mag``, right-aligned in an ``N x D`` matrix; leading
    zeros are NUL unless ``pad`` (then every row has ``D`` digits)."""
    n = len(mag)
    top = int(mag.max()) if n else 0
    width = max(len(str(top)), 1)
    out = np.empty((n, width), dtype=np.uint8)
    rest = mag.copy()
    for j in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, j] = digit
        out[:, j] += _ZERO
    if not pad and width > 1:
        for j in range(width - 1):
            # a leading zero: the value has fewer digits than this position needs
            out[:, j][mag < 10 ** (width - 1 - j)] = 0
    return out


def _sign(values: np.ndarray) -> np.ndarray:
    return np.where(values < 0, ord("-"), 0).astype(np.uint8).reshape(-1, 1)


def int_field(values: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Integers as ``str(int)`` writes them; empty where ``known`` is False."""
    values = np.asarray(values, dtype=np.int64)
    mag = np.abs(values)  # (int64 min is not a value procviz stores)
    field = _digits(mag, pad=False)
    if (values < 0).any():
        field = np.hstack([_sign(values), field])
    return blank(field, known)


def fixed_field(values: np.ndarray, digits: int, known: np.ndarray | None = None) -> np.ndarray:
    """Integer units of 10**-digits as exact decimal text with ``digits`` (>= 1) decimals
    (``-1.500``); empty where ``known`` is False. The same text as ``fixed_point.format_fixed``."""
    values = np.asarray(values, dtype=np.int64)
    whole, frac = np.divmod(np.abs(values), 10**digits)
    parts = [_digits(whole, pad=False), np.full((len(values), 1), ord("."), dtype=np.uint8),
             _digits(frac + 10**digits, pad=True)[:, 1:]]  # the leading "1" keeps the fraction's zeros
    if (values < 0).any():
        parts.insert(0, _sign(values))
    return blank(np.hstack(parts), known)


def blank(field: np.ndarray, known: np.ndarray | None) -> np.ndarray:
    """``field`` with the rows where ``known`` is False emptied (in place when it is writable)."""
    if known is not None and not known.all():
        field[~known] = 0
    return field


def table_field(table: Sequence[bytes], index: np.ndarray) -> np.ndarray:
    """Row ``i`` holds ``table[index[i]]`` (a few distinct texts for many rows: words, labels)."""
    width = max((len(t) for t in table), default=0)
    if width == 0:
        return np.zeros((len(index), 0), dtype=np.uint8)
    as_array = np.array(list(table), dtype=f"S{width}").view(np.uint8).reshape(len(table), width)
    return as_array[index]


def bytes_field(cells: Sequence[bytes]) -> np.ndarray:
    """One given byte string per row."""
    width = max((len(c) for c in cells), default=0)
    if width == 0:
        return np.zeros((len(cells), 0), dtype=np.uint8)
    return np.array(cells, dtype=f"S{width}").view(np.uint8).reshape(len(cells), width)


def sparse_field(n: int, rows: np.ndarray, cells: Sequence[bytes]) -> np.ndarray:
    """Empty for every row but ``rows``, which hold ``cells`` (failure reasons: a few rows of many)."""
    width = max((len(c) for c in cells), default=0)
    out = np.zeros((n, width), dtype=np.uint8)
    if width:
        out[rows] = bytes_field(cells)
    return out


def literal(text: bytes, n: int) -> np.ndarray:
    """The same bytes on every row (a separator, a line end, a fixed part of a template)."""
    return np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (n, len(text)))


def join_fields(fields: Sequence[np.ndarray | bytes]) -> bytes:
    """The rows' bytes, fields side by side, row after row, NUL padding removed.

    ``bytes`` items are literals repeated on every row.
    """
    arrays = [f for f in fields if not isinstance(f, bytes)]
    if not arrays:
        return b""
    n = arrays[0].shape[0]
    mats = [literal(f, n) if isinstance(f, bytes) else f for f in fields]
    return np.hstack(mats).tobytes().translate(None, b"\0")


def width_of(fields: Sequence[np.ndarray | bytes]) -> int:
    """Bytes per row of the matrix :func:`join_fields` builds (to keep chunks bounded)."""
    return sum(len(f) if isinstance(f, bytes) else f.shape[1] for f in fields)
