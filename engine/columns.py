"""A numpy column that reads as a tuple: per-task run data kept at 8 bytes a task, not ~40.

:class:`~procviz.engine.events.RunInfo` carries per-task sequences (planned cost, chunk). As
tuples of Python numbers they cost a pointer plus a number object per task (~36-40 B, the
biggest part of the parent's memory per task at a million tasks); :class:`ArrayColumn` keeps the
numpy array and behaves as the read-only sequence its readers expect (``len``, truth value,
indexing, iteration, ``==`` with a tuple, ``np.asarray`` without a copy).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


class ArrayColumn(Sequence[Any]):
    """A read-only sequence view of a 1-D numpy array."""

    __slots__ = ("_a",)

    def __init__(self, values: np.ndarray) -> None:
        a = np.asarray(values)
        a = a.view()
        a.flags.writeable = False
        self._a = a

    def __len__(self) -> int:
        return len(self._a)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return tuple(self._a[k].tolist())
        return self._a[k].item()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._a.tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._a if dtype is None else self._a.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ArrayColumn | tuple | list | np.ndarray):
            b = np.asarray(other)
            return b.shape == self._a.shape and bool(np.array_equal(self._a, b, equal_nan=self._a.dtype.kind == "f"))
        return NotImplemented

    # Compares by value, like a list: unhashable.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ArrayColumn({self._a!r})"
