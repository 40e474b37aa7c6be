"""The one error every timeline reader raises for a file it refuses."""

from __future__ import annotations

import os


class TimelineFileError(ValueError):
    """A timeline file that cannot be read, naming the file, the record and the field.

    ``record`` says where in the file (``"tasks[12]"``, ``"lanes[3]"``, ``"line 7"``,
    ``"document"``); ``field`` says which value (``"end_ns"``, ``"state"``, ``"start_s"``) or is
    empty when the problem is not about one field (a syntax error, a truncated file).
    """

    def __init__(self, path: str | os.PathLike[str], record: str, field: str, problem: str) -> None:
        self.path = os.fspath(path)
        self.record = record
        self.field = field
        self.problem = problem
        where = f"{record}, field '{field}'" if field else record
        super().__init__(f"{self.path}: {where}: {problem}")
