"""The native reader's fast path: the big number columns of a native file parsed by numpy.

A native file has one task column per line (``"start_ns":[1,2,...],``, see native_write), a million
numbers each. Through the strict JSON decoder every integer becomes a Python call (the int hook that
refuses huge integers) and a Python object: seconds for a million tasks. Here each such line of the
``tasks`` object is checked to be plain JSON numbers (bytes-level scans, no Python object per value)
and parsed by ``numpy.fromstring``; in the text handed to the JSON decoder it is replaced by a
*placeholder* string holding a random nonce, which :class:`~procviz.engine.formats.checks.Checker`
resolves back to the array. Nothing is lost to the checks: lengths, ranges, finiteness and types are
checked on the arrays exactly as on lists.

Anything unusual leaves a line to the strict decoder: a number that is not plain (a leading zero,
an exponent, ``null``, a value at or past the int64 limits), or a line outside ``tasks``. And the result is used only
when every placeholder comes back at the very place it was cut from (``doc["tasks"][key]``);
otherwise the caller decodes the original text strictly, so errors, duplicate keys and nesting
limits are reported exactly as without this path. A raw newline never occurs inside a JSON string,
so a line start is always outside any string.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import numpy as np

_TASKS = b'\n"tasks":{'
_KEY = re.compile(rb',?\n"([a-z_]{1,40})":\[')
_INT_BYTES = b"0123456789,-"
_FLOAT_BYTES = b"0123456789,-."
_COMMA, _MINUS, _DOT, _ZERO = b",-.0"
_I64 = np.iinfo(np.int64)


class Columns:
    """Arrays cut out of a document, by placeholder text."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.by_marker: dict[str, np.ndarray] = {}
        self.keys: dict[str, str] = {}  # marker -> the tasks key it was cut from

    def marker(self, key: str, values: np.ndarray) -> str:
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


def cut_task_columns(data: bytes) -> tuple[bytes, Columns]:
    """``data`` with the plain number lines of its ``tasks`` object replaced by placeholders."""
    cols = Columns()
    at = data.find(_TASKS)
    if at < 0:
        return data, cols
    pos = at + len(_TASKS)
    out = [data[:pos]]
    while True:
        m = _KEY.match(data, pos)
        if m is None:
            break
        end = data.find(b"]", m.end())
        if end < 0:
            break
        values = _parse(data[m.end():end])
        if values is None:  # left to the strict decoder
            out.append(data[pos:end + 1])
        else:
            marker = cols.marker(m.group(1).decode("ascii"), values)
            out.append(data[pos:m.end() - 1] + b'"\\u0000' + marker[1:].encode("ascii") + b'"')
        pos = end + 1
    out.append(data[pos:])
    return b"".join(out), cols


def _parse(body: bytes) -> np.ndarray | None:
    """The numbers of a list body (``1,2,3``) as int64 or float64, or None if not plainly valid."""
    if not body:
        return np.zeros(0, dtype=np.int64)
    if not body.translate(None, _INT_BYTES):
        dtype: Any = np.int64
    elif not body.translate(None, _FLOAT_BYTES):
        dtype = np.float64
    else:
        return None
    if not _plain_numbers(body, dtype is np.float64):
        return None
    try:
        values = np.fromstring(body, dtype=dtype, sep=",")  # (text mode: not deprecated)
    except ValueError:
        return None
    if len(values) != body.count(b",") + 1:
        return None
    if dtype is np.int64 and len(values) and (values.max() == _I64.max or values.min() == _I64.min):
        return None  # numpy clamps what does not fit in 64 bits: the strict decoder names it
    return values


def _plain_numbers(body: bytes, decimals: bool) -> bool:
    """Whether bytes of digits, commas, minus signs (and dots when ``decimals``) are JSON numbers
    separated by single commas: no empty item, a sign only first and before a digit, no leading
    zero; with ``decimals``, each item is digits "." digits. Substring counts (C loops) and one numpy
    pass over the zeros: no Python object per number."""
    if b",," in body or body[:1] == b"," or body[-1:] == b",":
        return False
    if b"-" in body:
        starts = body.count(b",-") + (body[:1] == b"-")
        if body.count(b"-") != starts or b"-," in body or b"--" in body or b"-." in body or body[-1:] == b"-":
            return False
    b = np.frombuffer(body, dtype=np.uint8)
    zero = np.flatnonzero(b[:-1] == _ZERO)
    after = b[zero + 1]
    zero = zero[(after >= _ZERO) & (after <= _ZERO + 9)]  # zeros followed by a digit
    if len(zero) and (zero[0] == 0 or np.isin(b[zero[zero > 0] - 1], (_COMMA, _MINUS)).any()):
        return False  # a leading zero
    if not decimals:
        return True
    if body.count(b".") != body.count(b",") + 1 or b",." in body or b".," in body or b"-." in body:
        return False
    if body[:1] == b"." or body[-1:] == b".":
        return False
    dots, commas = np.flatnonzero(b == _DOT), np.flatnonzero(b == _COMMA)
    return bool((dots[:-1] < commas).all() and (commas < dots[1:]).all())  # one dot per item
