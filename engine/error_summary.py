"""The command line's line on why tasks failed: each distinct error once, with how many tasks had it.

The outcome said "2 of 2 tasks failed or timed out" and no more: the reason (``TypeError: two()
missing 1 required positional argument``, ``WorkerDied: ... SIGSEGV``) was only in the file, so a
headless user had to open it to learn anything.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from procviz.engine.events import TaskState
from procviz.engine.timeline import Timeline
from procviz.engine.worker.wire import TaskText

SHOWN = 3  # distinct errors named; the rest are counted
# An object's address in a message ("<function <lambda> at 0x7f87...>") differs task by task: one
# error was listed once per task.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# Nor does a process id: the roles a scenario's main program ended each read "worker pid N was
# terminated ...", and the summary listed them one by one ("57 more tasks with 57 other errors").
_PID = re.compile(r"\bpid \d+")
MAX_CHARS = 160  # of one error's text


FailedTexts = list[tuple["TaskText | None", int]]


def failed_texts(timeline: Timeline) -> FailedTexts:
    """Each distinct text of the failed and timed-out tasks (None: no text), with how many tasks
    have it. Grouped by object, in C: a text the engine gave many tasks is one object, and a
    Python loop over a million failed tasks held the window's GUI thread for a second."""
    bad = np.flatnonzero((timeline.state == TaskState.FAILED) | (timeline.state == TaskState.TIMEOUT))
    if len(bad) == 0:
        return []
    ids = bad.tolist()
    objects = np.fromiter(map(id, map(timeline.texts.get, ids)), dtype=np.int64, count=len(ids))
    _, first, counts = np.unique(objects, return_index=True, return_counts=True)
    return [(timeline.texts.get(ids[i]), int(n)) for i, n in zip(first.tolist(), counts.tolist(), strict=True)]


def error_kinds(timeline: Timeline, texts: FailedTexts | None = None) -> list[tuple[str, int]]:
    """(exception type name, tasks) of the failed and timed-out tasks, most frequent first
    (``texts``: their :func:`failed_texts`, if already taken)."""
    kinds: Counter[str] = Counter()
    for text, n in failed_texts(timeline) if texts is None else texts:
        kinds[text.type_name if text is not None and text.kind == "error" and text.type_name else "no reason"] += n
    return kinds.most_common()


def error_lines(timeline: Timeline, texts: FailedTexts | None = None) -> list[str]:
    """'error: N tasks: Type: message' lines, most frequent first ([] when no task failed)
    (``texts``: their :func:`failed_texts`, if already taken)."""
    kinds: Counter[str] = Counter()
    one: dict[str, str] = {}  # a group's text with its PIDs, while it has only one
    for text, n in failed_texts(timeline) if texts is None else texts:
        if text is None or text.kind != "error":
            kinds["(no reason recorded)"] += n
            continue
        first = _ADDRESS.sub(" at 0x…", (text.message.strip().splitlines() or [""])[0])
        said = f"{text.type_name}: {first}" if first else text.type_name
        said = said if len(said) <= MAX_CHARS else said[:MAX_CHARS - 1] + "…"
        key = _PID.sub("pid …", said)
        one[key] = said if key not in kinds else key
        kinds[key] += n
    if not kinds:
        return []
    lines = [f"error: {n:,} task{'s' if n != 1 else ''}: {one.get(key, key)}" for key, n in kinds.most_common(SHOWN)]
    rest = sum(n for _, n in kinds.most_common()[SHOWN:])
    if rest:
        lines.append(f"error: {rest:,} more task{'s' if rest != 1 else ''} with {len(kinds) - SHOWN} other errors "
                     "(in the timeline)")
    return lines
