"""The search box's little language: which tasks a text like ``failed worker 2`` means.

Words are read left to right:

* a number ``12`` or a range ``10-19``: task ids;
* a task state (``done``, ``failed``, ``running`` or ``in progress``, ``queued``, ``cancelled``,
  ``timeout``, ``pending``; any unambiguous prefix such as ``fail``);
* ``worker N`` / ``thread N`` (the row label's ordinal), ``pid N``, ``tid N`` or ``lane N``.

Words of one kind are alternatives (``3 7`` is task 3 or task 7), kinds must all hold
(``failed worker 2`` is the failed tasks of worker 2). No Qt here; a mask is one vectorised pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline

_LANE_WORDS = ("worker", "thread", "pid", "tid", "lane")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


class QueryError(ValueError):
    """A search text that names nothing procviz knows (the message says which word)."""


@dataclass
class TaskQuery:
    """Parsed search: task id ranges, states, and lane selectors (kind, number)."""

    ids: list[tuple[int, int]] = field(default_factory=list)
    states: set[TaskState] = field(default_factory=set)
    lanes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the query selects nothing in particular (an empty search box)."""
        return not (self.ids or self.states or self.lanes)

    def lane_ids(self, timeline: Timeline) -> set[int]:
        """Lane indices the lane selectors name."""
        out: set[int] = set()
        ordinals: dict[str, int] = {}
        for info in timeline.lanes:
            kind = "thread" if info.kind == "thread" else "worker" if info.kind != "parent" else "parent"
            ordinal = ordinals.get(kind, 0)
            ordinals[kind] = ordinal + 1
            for word, number in self.lanes:
                if ((word == "lane" and info.index == number) or (word == "pid" and info.pid == number)
                        or (word == "tid" and info.tid == number) or (word == kind and ordinal == number)):
                    out.add(info.index)
        return out

    def mask(self, timeline: Timeline) -> np.ndarray:
        """Which tasks match (a bool per task)."""
        n = timeline.n_tasks
        hit = np.ones(n, bool)
        if self.ids:
            ids = np.zeros(n, bool)
            for lo, hi in self.ids:
                ids[max(lo, 0):max(min(hi + 1, n), 0)] = True
            hit &= ids
        if self.states:
            hit &= np.isin(timeline.state, np.array([int(s) for s in self.states], np.uint8))
        if self.lanes:
            hit &= np.isin(timeline.lane, np.array(sorted(self.lane_ids(timeline)), np.int32))
        return hit


def _state(word: str) -> TaskState | None:
    names = [s for s in TaskState if s.name.lower().startswith(word)]
    exact = [s for s in names if s.name.lower() == word]
    if exact:
        return exact[0]
    return names[0] if len(names) == 1 else None


def parse_query(text: str) -> TaskQuery:
    """The query a search text means; :class:`QueryError` names a word it cannot read."""
    # "in progress" is what the legend and the table call a running task.
    words = text.lower().replace("in progress", "running").replace(",", " ").replace(":", " ").split()
    q = TaskQuery()
    i = 0
    while i < len(words):
        word = words[i]
        if word in _LANE_WORDS:
            if i + 1 >= len(words) or not words[i + 1].isdigit():
                raise QueryError(f"'{word}' needs a number after it")
            q.lanes.append((word, int(words[i + 1])))
            i += 2
            continue
        m = _RANGE.match(word)
        if m:
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            q.ids.append((min(lo, hi), max(lo, hi)))
        elif (state := _state(word)) is not None:
            q.states.add(state)
        else:
            raise QueryError(f"'{word}' is not a task id, a state, or worker/pid/lane N")
        i += 1
    return q
