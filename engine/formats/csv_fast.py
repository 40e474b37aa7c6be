"""The CSV reader's fast path: a file exactly as procviz writes it, cut into columns by numpy.

procviz writes its CSV one way (csv_write): the exact header, CRLF line ends, quotes only around
text cells that need them, integers as plain digits, times with exactly 9 decimals and durations
with exactly 6. For such a file the separators are found with whole-array operations (a comma or
line end counts when an even number of quotes precedes it: RFC 4180 quoting keeps quotes paired)
and the numeric cells are parsed by one ``numpy.fromstring`` per part of about 2 MB of rows (parts
on two threads, see split_columns); text cells are decoded once per distinct text. Anything else in
the file (a quote in a numeric cell, fewer decimals, a bare LF, a wrong cell count, 19 digits, ...)
returns None, and the caller reads the file with the strict
csv-module path, which names the row and field of any problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from procviz.engine.formats.parallel import ordered_map

_QUOTE, _COMMA, _CR, _LF, _DOT, _MINUS, _ZERO = b'",\r\n.-0'
MAX_DIGITS = 18  # digits of one number that always fit in int64


@dataclass
class FastColumns:
    """The cells of a procviz CSV, per column: numbers as int64 (``known`` False for empty cells),
    texts as Python strings (one object per distinct text)."""

    n: int
    ints: dict[int, tuple[np.ndarray, np.ndarray]]  # column -> (value, known)
    texts: dict[int, tuple[list[str], np.ndarray]]  # column -> (distinct texts, each row's index)
    table: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # the numbers, by row


PART_BYTES = 2 << 20  # rows cut at a time: every array of a part stays in cache (and memory stays small)


def split_columns(data: bytes, header: bytes, n_cols: int, int_cols: dict[int, int | None], signed: set[int],
                  text_cols: set[int]) -> FastColumns | None:
    """Cut ``data`` (the whole file) into columns, or None when it is not plainly procviz's CSV.

    ``int_cols`` maps a column to its decimals (None: a plain integer); ``signed`` lists the ones
    that may be negative; ``text_cols`` the text columns (the only ones that may be quoted). The
    rows are cut a part of about PART_BYTES at a time, at line ends outside quotes, and the parts'
    columns joined: a dozen passes over a 100 MB file run in cache instead of in memory, and the
    temporary arrays (several times the file when made whole) stay a few MB.
    """
    if not data.startswith(header) or len(data) < len(header) + 2 or not data.endswith(b"\r\n"):
        return None
    bounds = []
    pos = len(header)
    quotes = b'"' in data
    while pos < len(data):
        end = _part_end(data, pos, quotes)
        bounds.append((pos, end))
        pos = end
    parts = []
    for part in ordered_map(lambda at: _split_part(data[at[0]:at[1]], n_cols, int_cols, signed, text_cols), bounds):
        if part is None:
            return None
        parts.append(part)
    return _joined(parts, int_cols, text_cols)


def _part_end(data: bytes, pos: int, quotes: bool) -> int:
    """The end of the part from ``pos``: just after the first line end past PART_BYTES that is outside
    quotes (an even number of quotes since ``pos``, a row start), or the end of the data."""
    at = pos + PART_BYTES
    while at < len(data):
        crlf = data.find(b"\r\n", at)
        if crlf < 0:
            break
        if not quotes or not data.count(b'"', pos, crlf) % 2:
            return crlf + 2
        at = crlf + 2
    return len(data)


def _joined(parts: list[FastColumns], int_cols: dict[int, int | None], text_cols: set[int]) -> FastColumns:
    """The parts' columns one after the other; each text column's distinct texts merged."""
    out = FastColumns(sum(p.n for p in parts), {}, {})
    # Each part's numbers are one table (a row per row, a column per numeric column): the columns
    # are views of the joined table (the Timeline's columns are computed from them anyway).
    table = np.concatenate([p.table for p in parts])
    nums = sorted(int_cols)
    for k, col in enumerate(nums):
        out.ints[col] = (table[:, k], np.concatenate([p.ints[col][1] for p in parts]))
    for col in text_cols:
        lookup: dict[str, int] = {}
        indices = []
        for p in parts:
            texts, index = p.texts[col]
            remap = np.array([lookup.setdefault(t, len(lookup)) for t in texts], dtype=np.intp)
            indices.append(remap[index])
        out.texts[col] = (list(lookup), np.concatenate(indices))
    return out


def _split_part(b_data: bytes, n_cols: int, int_cols: dict[int, int | None], signed: set[int],
                text_cols: set[int]) -> FastColumns | None:
    """One part of whole rows (ending with CRLF) cut into columns, or None (see split_columns)."""
    b = np.frombuffer(b_data, dtype=np.uint8)
    if b[-1] != _LF or b[-2] != _CR:
        return None
    quoted = b'"' in b_data  # (a C search: no array when nothing is quoted, the usual case)
    if quoted:
        outside = ~np.logical_xor.accumulate(b == _QUOTE)  # an odd number of quotes so far: inside one
        lf = np.flatnonzero((b == _LF) & outside)
        cr = np.flatnonzero((b == _CR) & outside)
        comma = np.flatnonzero((b == _COMMA) & outside)
    else:  # line ends are CRLF: find the CRs, check an LF follows each and no other LF exists
        cr, comma = np.flatnonzero(b == _CR), np.flatnonzero(b == _COMMA)
        lf = cr + 1
        if np.count_nonzero(b == _LF) != len(cr) or not (b[np.minimum(lf, len(b) - 1)] == _LF).all():
            return None
    n = len(lf)
    if len(cr) != n or not np.array_equal(cr + 1, lf) or len(comma) != n * (n_cols - 1):
        return None
    commas = comma.reshape(n, n_cols - 1)
    if n and not ((commas[:, 0] > np.r_[-1, lf[:-1]]).all() and (commas[:, -1] < cr).all()):
        return None  # a row with too few or too many cells
    row_start = np.r_[0, lf[:-1] + 1] if n else lf
    bounds = [(row_start if col == 0 else commas[:, col - 1] + 1, commas[:, col] if col < n_cols - 1 else cr)
              for col in range(n_cols)]
    out = FastColumns(n, {}, {})
    stream = np.zeros(len(b) + 16, dtype=np.uint8)  # a copy to blank text in, 16 bytes of slack for words
    stream[: len(b)] = b
    for col in sorted(text_cols):
        texts = _texts(stream, *bounds[col], quoted)
        if texts is None or col == 0:
            return None
        out.texts[col] = texts
    numbers = _numbers(b, stream, bounds, commas, cr, int_cols, signed, text_cols)
    if numbers is None:
        return None
    out.table, known = numbers
    out.ints = {col: (out.table[:, k], known[:, k]) for k, col in enumerate(sorted(int_cols))}
    return out


def _numbers(b: np.ndarray, stream: np.ndarray, bounds: list[tuple[np.ndarray, np.ndarray]], commas: np.ndarray,
             cr: np.ndarray, int_cols: dict[int, int | None], signed: set[int],
             text_cols: set[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """Every numeric column (a table: a column per numeric column, in order, and where each cell is
    known, i.e. not empty), parsed by one ``numpy.fromstring`` over the file with the text cells,
    decimal points and line ends taken out; each cell is first checked to be spelled exactly as
    procviz writes it (digits; a point ``decimals`` from the end; a sign only first, where allowed).
    """
    n = len(cr)
    nums = sorted(int_cols)
    if len(nums) + len(text_cols) != len(bounds) or not n:
        return None
    for col in text_cols:  # blank each text cell and the comma before it
        _blank(stream, commas[:, col - 1], bounds[col][1])
    known_of = {col: bounds[col][1] > bounds[col][0] for col in nums}
    if nums[0] == 0 and not known_of[0].all():
        return None  # the first cell of a row is the id: never empty
    for col in nums:  # an empty cell and the comma before it go: only known cells are parsed
        if col and not known_of[col].all():
            stream[commas[:, col - 1][~known_of[col]]] = 0
    body = stream.tobytes()
    marks = body.translate(None, b"0123456789,\r\n\0")  # what is left: points and signs, or a stray byte
    if marks.translate(None, b".-"):
        return None  # a quote or a letter in a number
    points = signs = 0
    lengths = {}
    for col in nums:
        start, end = bounds[col]
        length = end - start
        known = length > 0
        minus = np.zeros(n, dtype=bool)
        if col in signed:
            minus = known & (b[np.minimum(start, len(b) - 1)] == _MINUS)
            signs += int(minus.sum())
        decimals = int_cols[col]
        digits = length - minus
        if decimals is not None:
            at = np.maximum(end - decimals - 1, 0)
            if (known & (b[at] != _DOT)).any():
                return None
            points += int(known.sum())
            digits = digits - decimals - 1
        # The point goes and the decimals join the digits: the whole number must fit in int64.
        if (known & (digits < 1)).any() or digits.max() + (decimals or 0) > MAX_DIGITS:
            return None
        lengths[col] = known
    if marks.count(b".") != points or marks.count(b"-") != signs:
        return None  # a point or a sign anywhere else
    # Line ends become separators; points, text and empty cells go (``known`` says which are empty).
    body = body.translate(_LF_TO_COMMA, b"\r.\0")[:-1]  # (without the last line's end)
    try:
        values = np.fromstring(body, dtype=np.int64, sep=",")  # (text mode: not deprecated)
    except ValueError:
        return None
    known = np.column_stack([lengths[col] for col in nums])
    if len(values) != int(known.sum()):
        return None
    if len(values) == known.size:
        return values.reshape(n, len(nums)), known
    table = np.zeros((n, len(nums)), dtype=np.int64)
    table[known] = values  # row by row, as the stream had them
    return table, known


_LF_TO_COMMA = bytes.maketrans(b"\n", b",")


def _words(stream: np.ndarray) -> np.ndarray:
    """``out[i]`` is the 8 bytes of ``stream`` from ``i`` as a little-endian integer (a view: unaligned
    reads and writes of whole words, one numpy operation per 8 bytes of a cell instead of per byte)."""
    return np.ndarray(shape=(len(stream) - 7,), dtype="<u8", buffer=stream, strides=(1,))


def _low_bytes(count: np.ndarray) -> np.ndarray:
    """A word mask of the ``count`` (0..8) low bytes."""
    count = np.clip(count, 0, 8).astype(np.uint64)
    return np.where(count >= 8, np.uint64(0xFFFF_FFFF_FFFF_FFFF),
                    (np.uint64(1) << (np.uint64(8) * np.minimum(count, 7))) - np.uint64(1))


# Cells longer than this are zeroed one by one (a slice each): the word steps below are one numpy
# pass per 8 bytes of the longest cell, and an edited file's cell of a megabyte took 2 s.
_WORD_STEPS_UP_TO = 256


def _blank(stream: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    """Zero ``stream[start[i]:end[i]]`` for every i, a word at a time (cells of one column are more
    than 8 bytes apart, so the words of one step never overlap), the rest of a long cell at once."""
    words = _words(stream)
    length = end - start
    rows = np.flatnonzero(length > 0)
    k = 0
    while len(rows) and k < _WORD_STEPS_UP_TO:
        at = start[rows] + k
        words[at] &= ~_low_bytes(length[rows] - k)
        k += 8
        rows = rows[length[rows] > k]
    for s, e in zip((start[rows] + k).tolist(), end[rows].tolist(), strict=True):
        stream[s:e] = 0


def _texts(stream: np.ndarray, start: np.ndarray, end: np.ndarray, quoted: bool) -> tuple[list[str], np.ndarray] | None:
    """A text column, unquoted (RFC 4180) and decoded: its distinct texts and each row's index."""
    length = end - start
    n = len(length)
    if not n or not length.any():
        return [""], np.zeros(n, dtype=np.intp)
    if int(length.max()) <= 16:  # two words a cell, compared as integers (no NUL in a cell)
        words = _words(stream)
        w0 = words[start] & _low_bytes(length)
        w1 = words[start + 8] & _low_bytes(length - 8)
        if (w0 == w0[0]).all() and (w1 == w1[0]).all():  # one text in every row (the usual case)
            return _decoded([stream[start[0]:end[0]].tobytes()], np.zeros(n, dtype=np.intp), quoted)
        u0, i0 = np.unique(w0, return_inverse=True)
        u1, i1 = np.unique(w1, return_inverse=True)
        keys, inverse = np.unique(i0.reshape(-1) * len(u1) + i1.reshape(-1), return_inverse=True)
        cells = [(int(u0[k // len(u1)]).to_bytes(8, "little") + int(u1[k % len(u1)]).to_bytes(8, "little"))
                 .rstrip(b"\0") for k in keys.tolist()]
    else:  # long cells (failure reasons): one by one, the empty ones (most) left at index 0
        lookup: dict[bytes, int] = {b"": 0}
        filled = np.flatnonzero(length > 0)
        inverse = np.zeros(n, dtype=np.intp)
        inverse[filled] = [lookup.setdefault(stream[s:e].tobytes(), len(lookup))
                           for s, e in zip(start[filled].tolist(), end[filled].tolist(), strict=True)]
        cells = list(lookup)
    return _decoded(cells, inverse.reshape(-1), quoted)


def _decoded(cells: list[bytes], index: np.ndarray, quoted: bool) -> tuple[list[str], np.ndarray] | None:
    """Distinct cells unquoted and decoded, with each row's index; None for bad quoting or UTF-8."""
    decoded = []
    for cell in cells:
        text = _unquote(cell) if quoted else cell
        if text is None:
            return None
        try:
            decoded.append(text.decode("utf-8"))
        except UnicodeDecodeError:
            return None  # the strict path names the line
    return decoded, index


def _unquote(cell: bytes) -> bytes | None:
    """An RFC 4180 cell's text (quotes around it, doubled quotes inside); None when its quoting is
    not plain."""
    if b'"' not in cell:
        return cell
    if len(cell) < 2 or cell[:1] != b'"' or cell[-1:] != b'"':
        return None
    inner = cell[1:-1]
    if inner.replace(b'""', b"").count(b'"'):
        return None
    return inner.replace(b'""', b'"')
