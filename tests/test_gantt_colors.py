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


def cie_lab(hex_color: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    c = QColor(hex_color)
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in (c.redF(), c.greenF(), c.blueF())]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def test_no_two_chart_colours_look_alike_across_task_and_worker_states():
    drawn = {**{f"worker {s.name}": c for s, c in WORKER_STATE_COLORS.items()},
             **{f"task {s.name}": c for s, c in TASK_STATE_COLORS.items()},
             "done alt": colors.DONE_ALT_COLOR, "span": colors.SPAN_COLOR}
    for (na, a), (nb, b) in itertools.combinations(drawn.items(), 2):
        delta = sum((p - q) ** 2 for p, q in zip(cie_lab(a), cie_lab(b), strict=True)) ** 0.5
        assert delta >= 20, (na, nb, round(delta, 1))


def test_every_colour_has_one_name_and_the_legend_never_says_a_word_twice():
    from procviz.gui.gantt.legend import default_entries

    drawn = [*WORKER_STATE_COLORS.values(), *TASK_STATE_COLORS.values(), colors.DONE_ALT_COLOR, colors.SPAN_COLOR]
    assert set(colors.COLOR_NAMES) == set(drawn)
    assert len(set(colors.COLOR_NAMES.values())) == len(colors.COLOR_NAMES)
    texts = [e.text for e in default_entries() if e.color]
    assert len(texts) == len(set(texts)), texts
    assert any("strip" in e.text.lower() for e in default_entries() if not e.color)
