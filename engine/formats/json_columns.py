"""The native reader's fast path: the big number columns of a native file parsed by numpy.

A native file has one task column per line (``"start_ns":[1,2,...],``, see native_write), a million
numbers each. Through the strict JSON decoder every integer becomes a Python call (the int hook that
refuses huge integers) and a Python object: seconds for a million tasks. Here each such line of the
``tasks`` object is checked to be plain JSON numbers (byte masks, no Python object per value) and
parsed by ``numpy.fromstring`` (decimals as integers over powers of ten, see ``_decimals``); in the
text handed to the JSON decoder it is replaced by a *placeholder* string holding a random nonce,
which :class:`~procviz.engine.formats.checks.Checker` resolves back to the array. Nothing is lost to
the checks: lengths, ranges, finiteness and types are checked on the arrays exactly as on lists.

Anything unusual leaves a line to the strict decoder: a number that is not plain (a leading zero,
an exponent, ``null``, a value at or past the int64 limits), or a line outside ``tasks``. And the result is used only
when every placeholder comes back at the very place it was cut from (``doc["tasks"][key]``);
otherwise the caller decodes the original text strictly, so errors, duplicate keys and nesting
limits are reported exactly as without this path. A raw newline never occurs inside a JSON string,
so a line start is always outside any string.
"""

from __future__ import annotations

import os
import re
from typing import Any, NamedTuple

import numpy as np

from procviz.engine.formats.parallel import ordered_map

_TASKS = b'\n"tasks":{'
_KEY = re.compile(rb',?\n"([a-z_]{1,40})":\[')
_INT_BYTES = b"0123456789,-"
_FLOAT_BYTES = b"0123456789,-."
_COMMA, _MINUS, _DOT, _ZERO = b",-.0"
_I64 = np.iinfo(np.int64)


class Columns:
    """Arrays cut out of a document, by placeholder text. A placeholder may be cut before its array
    is parsed (:func:`cut_lines` with ``deferred``): :meth:`get` then gives None until it is set."""

    def __init__(self) -> None:
        self.nonce = os.urandom(8).hex()  # (what secrets.token_hex does, without importing secrets)
        self.by_marker: dict[str, np.ndarray | None] = {}
        self.keys: dict[str, str] = {}  # marker -> the tasks key it was cut from

    def marker(self, key: str, values: np.ndarray | None) -> str:
        """Remember ``values`` and return the placeholder's text."""
        text = f"\u0000procviz-column:{self.nonce}:{len(self.by_marker)}"
        self.by_marker[text] = values
        self.keys[text] = key
        return text

    def in_place(self, doc: Any) -> bool:
        """Whether every placeholder sits where it was cut from (else the text must be decoded
        strictly: a placeholder elsewhere would stand for something the file did not say there)."""
        tasks = doc.get("tasks") if isinstance(doc, dict) else None
        if not isinstance(tasks, dict):
            return not self.by_marker
        return all(tasks.get(key) == marker for marker, key in self.keys.items())

    def get(self, value: Any) -> np.ndarray | None:
        """The array ``value`` stands for, or None when it is not a placeholder."""
        return self.by_marker.get(value) if isinstance(value, str) else None

    def fill(self, key: str, values: np.ndarray) -> None:
        """Set the array of the deferred placeholder cut from ``key``."""
        for marker, k in self.keys.items():
            if k == key:
                self.by_marker[marker] = values


class TaskLine(NamedTuple):
    """One ``"key":[...]`` line of the ``tasks`` object: ``data[start:open]`` is its ``,\n"key":[``,
    ``data[open:close]`` its numbers, ``data[close]`` the ``]``."""

    key: str
    start: int
    open: int
    close: int


def task_lines(data: bytes) -> list[TaskLine]:
    """The number lines of the ``tasks`` object (found with byte searches; nothing parsed)."""
    at = data.find(_TASKS)
    if at < 0:
        return []
    pos = at + len(_TASKS)
    lines = []
    while True:
        m = _KEY.match(data, pos)
        if m is None:
            break
        close = data.find(b"]", m.end())
        if close < 0:
            break
        lines.append(TaskLine(m.group(1).decode("ascii"), pos, m.end(), close))
        pos = close + 1
    return lines


def parse_lines(data: bytes, lines: list[TaskLine]) -> list[np.ndarray | None]:
    """Each line's numbers (None where not plain), parsed on two threads (engine/formats/parallel.py:
    numpy releases the GIL)."""
    return list(ordered_map(lambda line: _parse(data[line.open:line.close]), lines))


def cut_lines(data: bytes, lines: list[TaskLine], values: list[np.ndarray | None],
              deferred: frozenset[str] = frozenset()) -> tuple[bytes, Columns]:
    """``data`` with each line that has values (or whose key is ``deferred``: parsed later, see
    :meth:`Columns.fill`) replaced by a placeholder; the others are left to the strict decoder."""
    cols = Columns()
    out = []
    pos = 0
    for line, parsed in zip(lines, values, strict=True):
        if parsed is None and line.key not in deferred:
            continue
        marker = cols.marker(line.key, parsed)
        out += [data[pos:line.open - 1], b'"\\u0000', marker[1:].encode("ascii"), b'"']
        pos = line.close + 1
    out.append(data[pos:])
    return b"".join(out), cols


def cut_task_columns(data: bytes) -> tuple[bytes, Columns]:
    """``data`` with the plain number lines of its ``tasks`` object replaced by placeholders."""
    lines = task_lines(data)
    return cut_lines(data, lines, parse_lines(data, lines))


def _parse(body: bytes) -> np.ndarray | None:
    """The numbers of a list body (``1,2,3``) as int64 or float64, or None if not plainly valid."""
    if not body:
        return np.zeros(0, dtype=np.int64)
    if not body.translate(None, _INT_BYTES):
        decimals = False
    elif not body.translate(None, _FLOAT_BYTES):
        decimals = True
    else:
        return None
    n = _plain_items(body, decimals)
    if n is None:
        return None
    values = _decimals(body, n) if decimals else _integers(body, n)
    if values is None or len(values) != n:
        return None
    return values


_PIECE = 1 << 18  # bytes checked at a time: the masks of a piece stay in cache
_EDGE = np.array([_COMMA], dtype=np.uint8)


def _plain_items(body: bytes, decimals: bool) -> int | None:
    """How many items bytes of digits, commas, minus signs (and dots when ``decimals``) hold, or
    None unless they are JSON numbers separated by single commas: no empty item, a sign only first
    and before a digit, no leading zero; with ``decimals``, each item is digits "." digits.

    Byte masks compared with their neighbours, a cache-sized piece at a time (numpy's vector
    loops: several times faster than substring searches over the bytes, and no Python object per
    number). Every item is taken to sit between two commas (one before the body, one after)."""
    if body[:1] == b"," or body[-1:] == b",":
        return None  # an empty first or last item
    b = np.frombuffer(body, dtype=np.uint8)
    commas = 0
    last_sep = _COMMA
    for lo in range(0, len(b), _PIECE):
        hi = min(lo + _PIECE, len(b))
        x = b[max(lo - 1, 0):hi + 1]  # the piece and one byte on each side (a comma at either end)
        if lo == 0:
            x = np.concatenate((_EDGE, x))
        if hi == len(b):
            x = np.concatenate((x, _EDGE))
        digit, comma, minus = x >= _ZERO, x == _COMMA, x == _MINUS  # (, - . sort below 0)
        if (comma[1:-1] & comma[2:]).any():
            return None  # an empty item
        if (minus[1:-1] & ~(comma[:-2] & digit[2:])).any():
            return None  # a sign not first in its item, or not before a digit
        if ((x[1:-1] == _ZERO) & digit[2:] & (comma[:-2] | minus[:-2])).any():
            return None  # a leading zero
        commas += int(np.count_nonzero(comma[1:-1]))
        if decimals:
            dot = x == _DOT
            if (dot[1:-1] & ~(digit[:-2] & digit[2:])).any():
                return None  # a point without a digit on each side
            seps = x[1:-1][comma[1:-1] | dot[1:-1]]  # one point per item: points and commas alternate
            if len(seps) and (seps[0] == last_sep or (seps[1:] == seps[:-1]).any()):
                return None
            last_sep = int(seps[-1]) if len(seps) else last_sep
    if decimals and last_sep != _DOT:
        return None  # the last item has no point
    return commas + 1


def _integers(body: bytes, n: int) -> np.ndarray | None:
    """Integer items as int64 (None when one does not fit: numpy clamps it, the strict decoder
    names it). Single digits (lanes, states) are read straight from the bytes."""
    if len(body) == 2 * n - 1:  # every item one digit (a sign would make one longer)
        return np.frombuffer(body, dtype=np.uint8)[::2].astype(np.int64) - _ZERO
    try:
        values = np.fromstring(body, dtype=np.int64, sep=",")  # (text mode: not deprecated)
    except ValueError:
        return None
    if len(values) and (values.max() == _I64.max or values.min() == _I64.min):
        return None
    return values


# Exact powers of ten: every integer below 2**53 divided by one of these is the correctly rounded
# double of the decimal (one IEEE division of two exact values), which is what JSON readers give.
_POW10 = np.array([float(10**k) for k in range(23)])
_EXACT_DIGITS = 15  # digits of a mantissa that is surely below 2**53


def _decimals(body: bytes, n: int) -> np.ndarray | None:
    """Decimal items (``12.5``) as float64: the digits without the point are an integer (parsed
    like the integer columns, fast) divided by a power of ten; numpy's own float parsing is several
    times slower. Items with longer mantissas go through that parsing."""
    b = np.frombuffer(body, dtype=np.uint8)
    commas = np.flatnonzero(b == _COMMA)
    dots = np.flatnonzero(b == _DOT)
    ends = np.r_[commas, len(b)]
    starts = np.r_[0, commas + 1]
    if int((ends - starts).max()) - 1 > _EXACT_DIGITS:  # (a sign counts as a digit: on the safe side)
        try:
            return np.fromstring(body, dtype=np.float64, sep=",")
        except ValueError:
            return None
    try:
        mantissa = np.fromstring(body.translate(None, b"."), dtype=np.int64, sep=",")
    except ValueError:
        return None
    if len(mantissa) != n:
        return None
    values = mantissa / _POW10[ends - dots - 1]
    if b"-0." in body:  # "-0.0": the sign its integer lost
        values[(mantissa == 0) & (b[starts] == _MINUS)] = -0.0
    return values
