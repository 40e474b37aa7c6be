"""Validators for decoded JSON documents: every refusal names the file, the record and the field.

A :class:`Checker` is bound to one file; its methods take the value, the record (``"run"``,
``"lanes[2]"``) and the field, and either return the value converted (ints, strings, numpy
columns) or raise :class:`TimelineFileError`. Columns are checked with numpy in one pass; only when a
column is bad is it scanned again to name the first bad row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal, NoReturn, TypeGuard, overload

import numpy as np

from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.json_columns import Columns
from procviz.engine.formats.jsonio import FlaggedDict, NonFinite

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
WALL_SLACK_NS = 1_000  # an on-CPU time may pass its task's wall time by this (a text format's rounding)


def describe(value: Any) -> str:
    """A short description of a JSON value for an error message."""
    if isinstance(value, NonFinite):
        return f"{value.token}, which is not a finite number"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return repr(value)


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer (bool excluded: True is an int in Python, not in the file)."""
    return type(value) is int


class Checker:
    """Validation helpers bound to one file; ``prefix`` is put before every record name."""

    def __init__(self, path: str, prefix: str = "", columns: Columns | None = None) -> None:
        self.path = path
        self.prefix = prefix
        self.columns = columns  # number columns the fast path parsed (engine/formats/json_columns.py)

    def fail(self, record: str, field: str, problem: str) -> NoReturn:
        """Raise the error for ``record``/``field``."""
        if self.prefix and record == "document":
            record = self.prefix.rstrip(".")  # the embedded document as a whole
        else:
            record = self.prefix + record
        raise TimelineFileError(self.path, record, field, problem)

    # ---- objects --------------------------------------------------------------------------------

    def obj(self, value: Any, record: str, field: str = "") -> dict[str, Any]:
        """An object without repeated keys."""
        if not isinstance(value, dict):
            self.fail(record, field, f"must be an object (got {describe(value)})")
        if isinstance(value, FlaggedDict):
            self.fail(record, value.duplicate if not field else f"{field}.{value.duplicate}",
                      "the key appears twice in one object")
        return value

    def fields(self, obj: dict[str, Any], record: str, required: Iterable[str], optional: Iterable[str] = ()) -> None:
        """Every required key is present and no unknown key is."""
        required = tuple(required)
        known = set(required) | set(optional)
        for key in obj:
            if key not in known:
                self.fail(record, str(key), "is not a known field")
        for key in required:
            if key not in obj:
                self.fail(record, key, "is missing")

    def plain(self, value: Any, record: str, field: str) -> Any:
        """Any JSON value, checked deeply for repeated keys and non-finite numbers."""
        stack = [(value, field)]
        while stack:
            v, where = stack.pop()
            if isinstance(v, dict):
                if isinstance(v, FlaggedDict):
                    self.fail(record, f"{where}.{v.duplicate}", "the key appears twice in one object")
                stack.extend((item, f"{where}.{k}") for k, item in v.items())
            elif isinstance(v, list):
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(v))
            elif isinstance(v, NonFinite) or (isinstance(v, float) and not math.isfinite(v)):
                self.fail(record, where, f"is {describe(v)}")
        return value

    # ---- scalars --------------------------------------------------------------------------------

    @overload
    def integer(self, obj: dict[str, Any], key: str, record: str, low: int = ..., high: int = ...,
                nullable: Literal[False] = ...) -> int: ...
    @overload
    def integer(self, obj: dict[str, Any], key: str, record: str, low: int = ..., high: int = ...,
                nullable: bool = ...) -> int | None: ...

    def integer(self, obj: dict[str, Any], key: str, record: str, low: int = INT64_MIN, high: int = INT64_MAX,
                nullable: bool = False) -> int | None:
        """An integer field within [low, high] (or null when ``nullable``)."""
        value = obj[key]
        if value is None and nullable:
            return None
        if not is_int(value):
            self.fail(record, key, f"must be a whole number (got {describe(value)})")
        if not low <= value <= high:
            self.fail(record, key, f"must be from {low} to {high} (got {value})")
        return value

    def text(self, obj: dict[str, Any], key: str, record: str, choices: tuple[str, ...] = ()) -> str:
        """A string field (one of ``choices`` when given)."""
        value = obj[key]
        if not isinstance(value, str):
            self.fail(record, key, f"must be text (got {describe(value)})")
        if choices and value not in choices:
            self.fail(record, key, f"must be one of {', '.join(choices)} (got {describe(value)})")
        return value

    def boolean(self, obj: dict[str, Any], key: str, record: str) -> bool:
        """A true/false field."""
        value = obj[key]
        if not isinstance(value, bool):
            self.fail(record, key, f"must be true or false (got {describe(value)})")
        return value

    # ---- columns --------------------------------------------------------------------------------

    def column_list(self, value: Any, table: str, field: str, length: int | None) -> list[Any] | np.ndarray:
        """A JSON list of the expected length (a numpy array when the fast path parsed it)."""
        parsed = self.columns.get(value) if self.columns is not None else None
        if parsed is not None:
            value = parsed
        elif not isinstance(value, list):
            self.fail(table, field, f"must be a list (got {describe(value)})")
        if length is not None and len(value) != length:
            self.fail(table, field, f"has {len(value)} values; expected {length}")
        return value

    def int_column(self, value: Any, table: str, field: str, length: int | None, low: int, high: int,
                   dtype: Any = np.int64) -> np.ndarray:
        """A list of integers within [low, high] as a numpy array of ``dtype``."""
        items = self.column_list(value, table, field, length)
        if isinstance(items, np.ndarray):
            if items.dtype.kind == "f" and len(items):  # a fast-path column of decimals
                self.fail(f"{table}[0]", field, f"must be a whole number (got {describe(items[0].item())})")
            self.in_range(items, table, field, low, high)
            return items.astype(dtype, copy=False)
        if items and set(map(type, items)) != {int}:
            i = next(i for i, v in enumerate(items) if not is_int(v))
            self.fail(f"{table}[{i}]", field, f"must be a whole number (got {describe(items[i])})")
        try:
            arr = np.array(items, dtype=np.int64)
        except OverflowError:
            i = next(i for i, v in enumerate(items) if not INT64_MIN <= v <= INT64_MAX)
            self.fail(f"{table}[{i}]", field, f"does not fit in 64 bits (got {items[i]})")
        self.in_range(arr, table, field, low, high)
        return arr.astype(dtype, copy=False)

    def float_column(self, value: Any, table: str, field: str, length: int | None, low: float = -math.inf,
                     dtype: Any = np.float64) -> np.ndarray:
        """A list of finite numbers (null = unknown, read as NaN) as a numpy array."""
        items = self.column_list(value, table, field, length)
        if isinstance(items, np.ndarray):
            floats = items.astype(np.float64)
            bad = floats < low  # (the fast path parses no infinities)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                self.fail(f"{table}[{i}]", field, f"must be a finite number >= {low:g} (got {items[i].item()!r})")
            return self._narrowed(floats, table, field, dtype)
        kinds = set(map(type, items))
        if not kinds <= {int, float, type(None)}:
            i = next(i for i, v in enumerate(items) if type(v) not in (int, float, type(None)))
            self.fail(f"{table}[{i}]", field, f"must be a number or null (got {describe(items[i])})")
        if type(None) in kinds:
            items = [math.nan if v is None else v for v in items]
        arr = np.array(items, dtype=np.float64)
        bad = np.isinf(arr) | (arr < low)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self.fail(f"{table}[{i}]", field, f"must be a finite number >= {low:g} (got {items[i]!r})")
        return self._narrowed(arr, table, field, dtype)

    def _narrowed(self, floats: np.ndarray, table: str, field: str, dtype: Any) -> np.ndarray:
        """``floats`` (finite or NaN) as ``dtype``; a value too large for it is refused, not made
        infinite (and then written as null) with a numpy warning on stderr."""
        with np.errstate(over="ignore"):
            out = floats.astype(dtype, copy=False)
        if out is not floats:
            bad = np.isinf(out)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                self.fail(f"{table}[{i}]", field, f"must be a number a {np.dtype(dtype).itemsize * 8}-bit float "
                          f"holds (got {floats[i].item()!r})")
        return out

    def text_column(self, value: Any, table: str, field: str, length: int | None) -> list[str]:
        """A list of strings."""
        items = self.column_list(value, table, field, length)
        if isinstance(items, np.ndarray):
            self.fail(f"{table}[0]", field, "must be text (got a number)")
        if items and set(map(type, items)) != {str}:
            i = next(i for i, v in enumerate(items) if not isinstance(v, str))
            self.fail(f"{table}[{i}]", field, f"must be text (got {describe(items[i])})")
        return items

    def in_range(self, arr: np.ndarray, table: str, field: str, low: int, high: int) -> None:
        """Every value of an integer column within [low, high]."""
        if not len(arr):
            return
        bad = (arr < low) | (arr > high)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if high == INT64_MAX:
                hint = " (-1 means unknown; nothing else is negative)" if low == -1 else ""
                self.fail(f"{table}[{i}]", field, f"must be >= {low}{hint} (got {int(arr[i])})")
            self.fail(f"{table}[{i}]", field, f"must be from {low} to {high} (got {int(arr[i])})")

    def within_wall(self, part: np.ndarray, start: np.ndarray, end: np.ndarray, table: str, field: str) -> None:
        """Where a task's start, end and ``part`` are known, ``part`` (its on-CPU time) is not longer
        than the task (procviz never writes one that is: a forged or mangled file)."""
        known = (start >= 0) & (end >= 0) & (part >= 0)
        bad = known & (part > end - start + WALL_SLACK_NS)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self.fail(f"{table}[{i}]", field,
                      f"is longer than the task ({field} {int(part[i])} > end_ns - start_ns {int(end[i] - start[i])})")

    def ordered(self, start: np.ndarray, end: np.ndarray, table: str, start_field: str, end_field: str,
                strict: bool = False) -> None:
        """Where both ends are known (>= 0), the end is not before the start."""
        known = (start >= 0) & (end >= 0)
        bad = known & ((end <= start) if strict else (end < start))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rel, op = ("at or before", "<=") if strict else ("before", "<")
            self.fail(f"{table}[{i}]", end_field,
                      f"ends {rel} it starts ({end_field} {int(end[i])} {op} {start_field} {int(start[i])})")
