"""Text rows built from whole numpy columns at once: the writers' fast path for a million rows.

A row is a list of *fields*: ``bytes`` literals (the same on every row: separators, the fixed parts
of a JSON event) and :class:`Field` s (one cell per row: a number, a word). :func:`join_fields`
lays a chunk of rows out as one ``uint8`` matrix, one row per output row: the literals are copied
in with a single template row, each field writes its cells into its own columns, padded with NUL
bytes anywhere (leading or trailing). Deleting every NUL (``bytes.translate``, a C loop) then
leaves exactly the rows' text. This works because no file procviz writes contains a NUL byte:
JSON escapes control characters, and the CSV writer replaces NUL by U+2400 (csv_write.neutralise).

JSON text may keep its padding as whitespace instead (:func:`join_json`): a space is allowed between
any two tokens, so a block of events is the matrix's own memory, no copy made while holding the
GIL, provided no padding falls inside a string or between a minus sign and its digits (the callers
keep every row's text fields the same width; a field with negative numbers makes the block
squeezed instead).

Numbers are turned into digits with a few numpy passes per column (one divmod per digit), never a
Python object per value, so formatting a column of a million integers costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ZERO = ord("0")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class Field:
    """One cell per row, ``width`` bytes of matrix at most; :meth:`write` fills an ``N x width`` view.
    ``tight``: its padding may not become whitespace (a sign before padded digits)."""

    width = 0
    tight = False

    def write(self, out: np.ndarray) -> None:
        """Write every row's cell into ``out`` (NUL-padded)."""
        raise NotImplementedError


class _Digits(Field):
    """Decimal (or hex) digits of non-negative integers, right-aligned; leading zeros are NUL
    unless ``pad`` (then every row has ``width`` digits)."""

    def __init__(self, mag: np.ndarray, pad: bool = False, base: int = 10, width: int = 0) -> None:
        self.mag, self.pad, self.base = mag, pad, base
        self._block: np.ndarray | None = None
        self.top = top = int(mag.max()) if len(mag) else 0
        if width:
            self.width = width
        elif base == 16:
            self.width = max((top.bit_length() + 3) // 4, 1)
        else:
            self.width = max(len(str(top)), 1)

    def write(self, out: np.ndarray) -> None:
        if self._block is None and len(self.mag) > 1 and int(self.mag.min()) == self.top:
            # One value in the whole chunk (tasks submitted at once): its digits once, for every row.
            self._block = np.broadcast_to(_Digits(self.mag[:1], self.pad, self.base, self.width).row(),
                                          (len(self.mag), self.width))
        if self._block is None:
            # Digit-major (one contiguous row per digit position: scalar divisions, contiguous
            # writes), then one copy into place; kept, as a field may appear twice in a row.
            # 32-bit arithmetic when the values allow: a third faster than 64-bit.
            kind: type[np.integer] = np.uint32 if self.top < 1 << 32 else np.int64
            base, width = kind(self.base), self.width
            rest: np.ndarray = self.mag.astype(kind)
            spare, rem = np.empty_like(rest), np.empty_like(rest)
            digits = np.empty((width, len(rest)), dtype=np.uint8)
            for j in range(width - 1, -1, -1):
                if self.base == 16:
                    np.take(_HEX, np.bitwise_and(rest, 15), out=digits[j])
                    np.right_shift(rest, 4, out=rest)
                    continue
                np.floor_divide(rest, base, out=spare)
                np.multiply(spare, base, out=rem)
                np.subtract(rest, rem, out=rem)
                np.add(rem, _ZERO, out=digits[j], casting="unsafe")
                rest, spare = spare, rest
            if not self.pad:  # a leading zero (fewer digits than this position needs) becomes NUL
                low = int(self.mag.min()) if len(self.mag) else 0
                for j in range(width - 1):
                    bound = self.base ** (width - 1 - j)
                    if low >= bound:  # (every row has a digit here and further right: nothing to clear)
                        break
                    np.multiply(digits[j], self.mag >= bound, out=digits[j])
            self._block = digits.T
        out[:] = self._block

    def row(self) -> np.ndarray:
        """The first row's cell (``width`` bytes)."""
        out = np.empty((len(self.mag), self.width), dtype=np.uint8)
        self.write(out)
        return out[0]


class _Composite(Field):
    """Fields one after the other, the whole emptied where ``known`` is False."""

    def __init__(self, parts: list[Field | bytes], known: np.ndarray | None) -> None:
        self.parts, self.known = parts, known
        self.width = sum(len(p) if isinstance(p, bytes) else p.width for p in parts)
        self.tight = any(isinstance(p, Field) and (p.tight or isinstance(p, _Sign)) for p in parts)

    def write(self, out: np.ndarray) -> None:
        at = 0
        for p in self.parts:
            if isinstance(p, bytes):
                out[:, at:at + len(p)] = np.frombuffer(p, dtype=np.uint8)
                at += len(p)
            else:
                p.write(out[:, at:at + p.width])
                at += p.width
        if self.known is not None and not self.known.all():
            out[~self.known] = 0


class _Sign(Field):
    width = 1

    def __init__(self, negative: np.ndarray) -> None:
        self.negative = negative

    def write(self, out: np.ndarray) -> None:
        out[:, 0] = np.where(self.negative, ord("-"), 0)


class CellTable:
    """Distinct cells made ready once for many :func:`table_field` s (a writer's chunks): a matrix
    of NUL-padded rows and each cell's length."""

    def __init__(self, cells: Sequence[bytes]) -> None:
        self.lengths = np.array([len(c) for c in cells] or [0], dtype=np.int64)
        full = int(self.lengths.max())
        self.rows = np.array(list(cells) or [b""], dtype=f"S{max(full, 1)}").view(np.uint8).reshape(-1, max(full, 1))


class _Table(Field):
    """Row ``i`` holds ``table[index[i]]``, as wide as the longest cell the rows use (a chunk of
    "done" tasks takes no room for "cancelled")."""

    def __init__(self, table: CellTable, index: np.ndarray) -> None:
        self.width = int(table.lengths[index].max()) if len(index) else 0
        self.table = table.rows[:, :self.width]
        self.index = index

    def write(self, out: np.ndarray) -> None:
        if not self.width:
            return
        index = self.index
        if len(index) and (index == index[0]).all():  # (one cell for the whole chunk: a word, a pid)
            out[:] = self.table[index[0]]
            return
        # A gather into contiguous rows, then one copy: several times faster than fancy indexing
        # straight into the matrix's strided columns.
        rows = np.empty((len(index), self.width), dtype=np.uint8)
        np.take(self.table, index, axis=0, out=rows)
        out[:] = rows


class _Sparse(Field):
    """Empty except ``rows``, which hold ``cells``."""

    def __init__(self, rows: np.ndarray, cells: Sequence[bytes]) -> None:
        self.rows = rows
        self.width = max((len(c) for c in cells), default=0)
        self.cells = cells

    def write(self, out: np.ndarray) -> None:
        out[:] = 0
        if self.width:
            out[self.rows] = np.array(list(self.cells), dtype=f"S{self.width}").view(np.uint8).reshape(-1, self.width)


def int_field(values: np.ndarray, known: np.ndarray | None = None) -> Field:
    """Integers as ``str(int)`` writes them; empty where ``known`` is False."""
    values = np.asarray(values, dtype=np.int64)
    negative = values < 0  # (int64 min is not a value procviz stores)
    parts: list[Field | bytes] = [_Digits(np.abs(values))]
    if negative.any():
        parts.insert(0, _Sign(negative))
    return _Composite(parts, known)


def fixed_field(values: np.ndarray, digits: int, known: np.ndarray | None = None) -> Field:
    """Integer units of 10**-digits as exact decimal text with ``digits`` (>= 1) decimals
    (``-1.500``); empty where ``known`` is False. The same text as ``fixed_point.format_fixed``."""
    values = np.asarray(values, dtype=np.int64)
    whole, frac = np.divmod(np.abs(values), 10**digits)
    negative = values < 0
    parts: list[Field | bytes] = [_Digits(whole), b".", _Digits(frac, pad=True, width=digits)]
    if negative.any():
        parts.insert(0, _Sign(negative))
    return _Composite(parts, known)


def hex_field(values: np.ndarray) -> Field:
    """Non-negative integers as ``"%x"`` writes them (lower case, no prefix)."""
    return _Digits(np.asarray(values, dtype=np.int64), base=16)


def table_field(table: Sequence[bytes] | CellTable, index: np.ndarray) -> Field:
    """Row ``i`` holds ``table[index[i]]`` (a few distinct texts for many rows: words, labels);
    pass a :class:`CellTable` when the same table serves many chunks."""
    return _Table(table if isinstance(table, CellTable) else CellTable(table), index)


def sparse_field(n: int, rows: np.ndarray, cells: Sequence[bytes]) -> Field:
    """Empty for every row but ``rows``, which hold ``cells`` (failure reasons: a few rows of many)."""
    return _Sparse(rows, cells)


def optional_field(parts: list[Field | bytes], known: np.ndarray) -> Field:
    """``parts`` one after the other (a JSON key and its value), left out where ``known`` is False
    (its place is padding: whitespace in JSON)."""
    return _Composite(parts, known)


def _matrix(fields: Sequence[Field | bytes], n: int) -> np.ndarray:
    """The ``N x width`` matrix of the rows: a template row of the literals, then each field."""
    width = sum(len(f) if isinstance(f, bytes) else f.width for f in fields)
    template = np.zeros(width, dtype=np.uint8)
    at = 0
    for f in fields:
        if isinstance(f, bytes):
            template[at:at + len(f)] = np.frombuffer(f, dtype=np.uint8)
            at += len(f)
        else:
            at += f.width
    mat = np.empty((n, width), dtype=np.uint8)
    mat[:] = template
    at = 0
    for f in fields:
        if isinstance(f, bytes):
            at += len(f)
        else:
            f.write(mat[:, at:at + f.width])
            at += f.width
    return mat


def join_fields(fields: Sequence[Field | bytes], n: int) -> bytes:
    """The ``n`` rows' bytes, fields side by side, row after row, NUL padding removed."""
    if not n:
        return b""
    return _squeezed(_matrix(fields, n))


_SPACE = ord(" ")


def join_json(fields: Sequence[Field | bytes], n: int, trim: int = 0) -> bytes | memoryview:
    """Like :func:`join_fields` for rows of JSON whose padding may stay as spaces (see the module
    docstring), without the last ``trim`` bytes (the last row's separator): the matrix's memory
    itself, unless a tight field makes it squeezed."""
    if not n:
        return b""
    return _json_block(_matrix(fields, n), trim, any(isinstance(f, Field) and f.tight for f in fields))


def _json_block(mat: np.ndarray, trim: int, tight: bool) -> bytes | memoryview:
    flat = mat.reshape(-1)[:mat.size - trim]
    if tight:
        return _squeezed(flat)
    if not flat.all():  # (fixed-width rows have no padding at all)
        np.copyto(flat, _SPACE, where=flat == 0)
    return memoryview(flat)  # type: ignore[arg-type]  # (numpy arrays are buffers)


# Below this share of NUL bytes, deleting them one occurrence at a time (bytes.replace: a memchr per
# NUL, ~13 ns each, and memcpy between) beats bytes.translate (a table lookup per byte, ~0.6 ns).
_SPARSE_NULS = 1 / 25


def _squeezed(mat: np.ndarray) -> bytes:
    """The matrix's bytes without its NUL padding, by whichever way is cheaper for its share of NULs
    (counted by numpy's vectorised count first: a chunk of fixed-width rows has none at all)."""
    nuls = mat.size - np.count_nonzero(mat)
    data = mat.tobytes()
    if not nuls:
        return data
    if nuls < mat.size * _SPARSE_NULS:
        return data.replace(b"\0", b"")
    return data.translate(None, b"\0")


def join_with_inserts(head: Sequence[Field | bytes], tail: Sequence[Field | bytes], n: int, rows: np.ndarray,
                      inserts: Sequence[bytes], trim: int = 0) -> bytes | memoryview:
    """Like ``join_json(head + tail)``, with ``inserts[k]`` put between the head and the tail of
    row ``rows[k]`` (ascending): sparse long text (a traceback) never widens every row's matrix."""
    fields = [*head, *tail]
    if not len(rows):
        return join_json(fields, n, trim)
    tight = any(isinstance(f, Field) and f.tight for f in fields)
    mat = _matrix(fields, n)
    head_width = sum(len(f) if isinstance(f, bytes) else f.width for f in head)
    if tight:
        head_len = np.count_nonzero(mat[:, :head_width], axis=1)
        row_len = head_len + np.count_nonzero(mat[:, head_width:], axis=1)
        at = (np.cumsum(row_len) - row_len + head_len)[rows].tolist()  # where each insert goes
    else:  # (padding kept: every row is as wide as the matrix)
        at = (rows * mat.shape[1] + head_width).tolist()
    block = _json_block(mat, trim, tight)
    pieces, prev = [], 0
    for pos, text in zip(at, inserts, strict=True):
        pieces += [block[prev:pos], text]
        prev = pos
    pieces.append(block[prev:])
    return b"".join(pieces)
