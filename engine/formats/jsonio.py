"""JSON text in and out, strictly: no NaN, no duplicate keys, lone surrogates escaped.

Decoding never fails half-way on a value it dislikes: a duplicate key comes back as a
:class:`FlaggedDict` and NaN/Infinity as a :class:`NonFinite` marker, so the validators that walk the
document afterwards can say *where* the problem is ("tasks[12], field 'cost_ms'"), which the
decoder itself cannot.

Encoding: numbers and plain lists go through orjson when it is installed (it serialises numpy
arrays directly, ~10x faster than the stdlib), otherwise through :mod:`json`; both give the same
bytes for integers. Text always goes through :mod:`json` with ``ensure_ascii``: every file procviz
writes as JSON is pure ASCII, so reading one back decodes to a compact one-byte-per-character
string (a single "é" in a 500 MB UTF-8 trace would make Python hold it as 1-2 GB of UCS-2/4), a
lone surrogate such as ``"\\udc80"`` (a name decoded with ``surrogateescape``) becomes the escape
``\\udc80`` instead of crashing the writer, and viewers that choke on raw bytes never see any.
Floats are written with Python's ``repr`` (the stdlib), so a file does not depend on which JSON
library wrote it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from procviz.engine.formats.errors import TimelineFileError
from procviz.engine.formats.textcols import join_fields, table_field
from procviz.engine.safe_json import DECODER, FlaggedDict, HugeInt, InputError, NonFinite, first_repeat

try:  # optional speed-up; everything works without it
    import orjson
except ImportError:  # pragma: no cover - exercised by monkeypatching _orjson in the tests
    orjson = None  # type: ignore[assignment]

_orjson = orjson


# The markers and the decoder live in procviz.engine.safe_json (one decoder for every input).
STRICT_DECODER = DECODER


def decode_strict(text: str) -> Any:
    """Parse a whole JSON document (raises json.JSONDecodeError on bad syntax)."""
    return STRICT_DECODER.decode(text)


__all__ = ["FlaggedDict", "HugeInt", "NonFinite", "first_repeat"]


def text_bytes(text: str) -> bytes:
    """Bytes of JSON text (ASCII when it came from dumps_value/encode_str; any stray lone surrogate
    is written as a ``\\uXXXX`` escape).

    DEL (0x7f) is escaped too: JSON allows it raw, but Perfetto's tokenizer treats any control
    character inside a string as a fatal error while it skips over values.
    """
    if "\x7f" in text:
        text = text.replace("\x7f", "\\u007f")
    return text.encode("utf-8", "backslashreplace")


def dumps_value(value: Any) -> bytes:
    """Compact ASCII JSON of plain data holding text (config, records, lists of strings)."""
    return text_bytes(json.dumps(value, separators=(",", ":"), allow_nan=False))


def encode_str(text: str) -> str:
    """One ASCII JSON string literal, quotes included (the stdlib's C escaper: fast per call)."""
    return json.encoder.encode_basestring_ascii(text)


def int_list_bytes(values: np.ndarray) -> bytes:
    """``[1,2,3]`` for an integer numpy array."""
    if _orjson is not None:
        return _orjson.dumps(np.ascontiguousarray(values, dtype=np.int64), option=_orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(values.tolist(), separators=(",", ":")).encode("ascii")


def float_list_bytes(values: np.ndarray, single: bool = False) -> bytes:
    """``[1.5,null,...]`` for a float array; NaN and infinities are written as null (unknown).

    ``single``: the values are float32 and are written with the shortest text that reads back as
    the same float32 (``12.3``, not ``12.300000190734863``).
    """
    if not len(values):
        return b"[]"
    # Each distinct value (bit pattern: -0.0 is not 0.0) is formatted once; a million planned
    # costs usually hold a handful of values.
    kind = np.float32 if single else np.float64
    bits, index = np.unique(np.ascontiguousarray(values, dtype=kind).view(np.int32 if single else np.int64),
                            return_inverse=True)
    distinct = bits.view(kind)
    texts = distinct.astype(str).tolist() if single else [repr(v) for v in distinct.tolist()]
    cells = [t.encode("ascii") if np.isfinite(v) else b"null" for t, v in zip(texts, distinct.tolist(), strict=True)]
    return b"[" + join_fields([table_field(cells, index.reshape(-1)), b","], len(values))[:-1] + b"]"


def decode_utf8(data: bytes, path: str) -> str:
    """The file's text (a leading BOM, as spreadsheets save CSV, is dropped); invalid UTF-8 is
    refused with its line number."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = f"is not UTF-8 text (byte {exc.start}: {exc.reason})"
        raise TimelineFileError(path, f"line {line}", "", problem) from None


def parse_json(text: str, path: str) -> Any:
    """Decode a whole JSON document strictly; syntax errors name the line and column."""
    try:
        return decode_strict(text)
    except json.JSONDecodeError as exc:
        raise json_error(exc, text, path) from None
    except RecursionError:
        raise TimelineFileError(path, "file", "", str(InputError("", "is nested too deeply"))) from None


def json_error(exc: json.JSONDecodeError, text: str, path: str) -> TimelineFileError:
    """A TimelineFileError for a JSON syntax error, saying when the file looks cut short."""
    # An unterminated string runs to the end of the file; other errors at the very end mean the
    # document stopped before its closing brackets.
    truncated = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
    hint = "; the file ends early (truncated?)" if truncated else ""
    # ("Unterminated string starting at": the decoder's message runs on into the position)
    msg = exc.msg[:-3] + " here" if exc.msg.endswith(" at") else exc.msg
    return TimelineFileError(path, f"line {exc.lineno}", "", f"invalid JSON at column {exc.colno}: {msg}{hint}")
