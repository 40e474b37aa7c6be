"""The one palette: complete, unambiguous between the two enums, readable on light and dark."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtGui import QColor

from procviz.engine.events import TaskState, WorkerState
from procviz.gui import colors
from procviz.gui.colors import TASK_STATE_COLORS, WORKER_STATE_COLORS, state_color

LIGHT, DARK = "#FFFFFF", "#1F2023"  # the backgrounds of gui.theme's light and dark palettes


def luminance(hex_color: str) -> float:
    c = QColor(hex_color)
    chans = []
    for v in (c.redF(), c.greenF(), c.blueF()):
        chans.append(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
    return 0.2126 * chans[0] + 0.7152 * chans[1] + 0.0722 * chans[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def distance(a: str, b: str) -> float:
    ca, cb = QColor(a), QColor(b)
    return ((ca.red() - cb.red()) ** 2 + (ca.green() - cb.green()) ** 2 + (ca.blue() - cb.blue()) ** 2) ** 0.5


def test_every_state_has_a_valid_colour():
    assert set(WORKER_STATE_COLORS) == set(WorkerState)
    assert set(TASK_STATE_COLORS) == set(TaskState)
    for value in [*WORKER_STATE_COLORS.values(), *TASK_STATE_COLORS.values()]:
        assert QColor(value).isValid(), value


def test_state_color_tells_the_enums_apart_despite_equal_values():
    assert WorkerState.RUNNING == TaskState.RUNNING  # both IntEnums with value 2
    assert state_color(WorkerState.RUNNING) == QColor(WORKER_STATE_COLORS[WorkerState.RUNNING])
    assert state_color(TaskState.RUNNING) == QColor(TASK_STATE_COLORS[TaskState.RUNNING])
    assert state_color(WorkerState.RUNNING) != state_color(TaskState.RUNNING)
    with pytest.raises(TypeError):
        state_color(2)  # type: ignore[arg-type]


@pytest.mark.parametrize("background", [LIGHT, DARK])
def test_chart_colours_read_on_light_and_dark_backgrounds(background):
    drawn = [*WORKER_STATE_COLORS.values(), *TASK_STATE_COLORS.values(), colors.DONE_ALT_COLOR, colors.SPAN_COLOR]
    for value in drawn:
        assert contrast(value, background) >= 2.0, (value, background)


def test_states_that_sit_side_by_side_are_distinct():
    groups = [
        list(WORKER_STATE_COLORS.values()),
        [TASK_STATE_COLORS[s] for s in (TaskState.RUNNING, TaskState.DONE, TaskState.FAILED, TaskState.TIMEOUT,
                                        TaskState.CANCELLED)] + [colors.DONE_ALT_COLOR],
    ]
    for group in groups:
        for a, b in itertools.combinations(group, 2):
            assert distance(a, b) >= 60, (a, b)
