"""Untrusted JSON in, safely: configs, ``--args`` and timeline files all decode through here.

What a hostile document cannot do here:

* nest deep enough to crash the decoder or a later walk: the stdlib decoder recurses in C and
  raises RecursionError near 1000 levels, which becomes a refusal; documents that must be small
  (configs, arguments) are also refused past ``MAX_DEPTH`` levels, checked by an iterative walk;
* carry an integer that costs quadratic time to convert or overflows int64 later: integers of
  more than ``MAX_INT_DIGITS`` digits or outside int64 decode to a :class:`HugeInt` marker, and
  :func:`check_document` names where it is ("workload.args[3][0]");
* repeat a key (last one silently winning): objects that do are :class:`FlaggedDict`;
* use NaN or Infinity: they decode to a :class:`NonFinite` marker.

Timeline readers walk their documents anyway (their validators name fields), so they take the
markers from :data:`DECODER` and refuse them in their own words; small documents are checked
whole by :func:`loads_checked`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
MAX_INT_DIGITS = 20
_INT64 = (-(1 << 63), (1 << 63) - 1)


class InputError(ValueError):
    """A document refused, with the place in it (``where``) and why."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where = where
        self.problem = problem


class HugeInt:
    """An integer too large to accept (kept as its digit count, never converted)."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<integer of {self.digits} digits>"


class NonFinite:
    """Stands for a NaN / Infinity / -Infinity token met while decoding (always refused later)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


class FlaggedDict(dict):
    """A decoded JSON object that repeated a key; ``duplicate`` is the first repeated key."""

    duplicate: str = ""


def first_repeat(pairs: list[tuple[str, Any]]) -> str:
    """The first key that appears a second time in an object's (key, value) pairs."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    flagged = FlaggedDict(obj)
    flagged.duplicate = first_repeat(pairs)
    return flagged


def _parse_int(text: str) -> int | HugeInt:
    if len(text) > MAX_INT_DIGITS + 1:
        return HugeInt(text)
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else HugeInt(text)


DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=NonFinite, parse_int=_parse_int)


def decode(text: str) -> Any:
    """Decode with the markers above; too deep a document raises :class:`InputError`.

    json.JSONDecodeError (bad syntax) passes through for callers that name lines and columns.
    """
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise InputError("", "is nested too deeply (JSON arrays and objects inside each other "
                         f"more than {MAX_DEPTH} levels are refused)") from None


def check_document(doc: Any, root: str = "") -> None:
    """Refuse markers and depth past MAX_DEPTH anywhere in ``doc`` (iterative: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(doc, root, 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(where, f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, HugeInt):
            raise InputError(where, f"is an integer of {value.digits} digits; integers must fit in 64 bits")
        if isinstance(value, NonFinite):
            raise InputError(where, f"is {value.token}; only finite numbers are allowed")
        if isinstance(value, dict):
            if isinstance(value, FlaggedDict):
                raise InputError(where, f"repeats the key {value.duplicate!r}")
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


def loads_checked(text: str, root: str = "") -> Any:
    """A small document (config, arguments), decoded and checked whole; refusals raise
    :class:`InputError` (a ValueError) naming the place, e.g. "workload.args[2]: ..."."""
    try:
        doc = decode(text)
    except InputError as exc:
        raise InputError(root, exc.problem) from None
    except json.JSONDecodeError as exc:
        raise InputError(root, f"is not valid JSON: {exc}") from None
    check_document(doc, root)
    return doc
