"""engine/formats/parallel.py: results in order, errors raised at their item, threads always ended."""

from __future__ import annotations

import threading
import time

import pytest

from procviz.engine.formats import parallel
from procviz.engine.formats.parallel import ordered_map, thread_count


def _formatting_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("procviz-formats-")]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_come_in_order_whatever_finishes_first(threads):
    def slow_evens(i: int) -> int:
        time.sleep(0.002 if i % 2 == 0 else 0)  # later items finish first
        return i * i

    assert list(ordered_map(slow_evens, range(40), ahead=3, threads=threads)) == [i * i for i in range(40)]
    assert not _formatting_threads()


def test_at_most_ahead_items_are_computed_before_they_are_taken():
    started: list[int] = []
    lock = threading.Lock()

    def note(i: int) -> int:
        with lock:
            started.append(i)
        return i

    taken = 0
    for i in ordered_map(note, range(30), ahead=2, threads=2):
        time.sleep(0.001)
        with lock:
            assert max(started) <= i + 2  # never more than `ahead` items past the one taken
        taken += 1
    assert taken == 30


def test_an_error_is_raised_in_the_caller_and_the_threads_end():
    def boom(i: int) -> int:
        if i == 5:
            raise ValueError("item 5")
        return i

    got = []
    with pytest.raises(ValueError, match="item 5"):
        for value in ordered_map(boom, range(50), threads=2):
            got.append(value)
    assert got == list(range(len(got))) and len(got) <= 5
    assert not _formatting_threads()


def test_leaving_early_ends_the_threads():
    for value in ordered_map(lambda i: i, range(1000), threads=2):
        if value == 3:
            break
    assert not _formatting_threads()


def test_thread_count_is_one_or_two():
    assert thread_count() in (1, 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_later_gives_its_value_or_raises_its_error_in_the_caller(threads, monkeypatch):
    monkeypatch.setattr(parallel, "thread_count", lambda: threads)
    assert parallel.Later(lambda: [1, 2]).result() == [1, 2]
    failing = parallel.Later(lambda: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        failing.result()
    with pytest.raises(ZeroDivisionError):  # (asked again: the same error, not None)
        failing.result()
