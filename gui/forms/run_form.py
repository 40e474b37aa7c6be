"""The pool and workload forms together, validated as the user types.

Validation is :func:`procviz.engine.config.parse_config` itself: the form builds config data from the
widgets, and each :class:`~procviz.engine.config.Problem` is shown next to the widget of its field.
Problems without a widget of their own (unknown fields, whole-config checks) go to a general
line under the forms. ``validityChanged`` tells the window when Run may be enabled.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from procviz.engine.config import ConfigError, Problem, RunConfig, parse_config
from procviz.engine.specs import SCENARIO_SPECS
from procviz.gui.forms.fields import set_combo_value
from procviz.gui.forms.pool_form import PoolForm, backend_available, backend_label
from procviz.gui.forms.workload_form import WorkloadForm


class RunForm(QWidget):
    """Pool + workload forms; ``config()`` is the validated RunConfig or None while invalid."""

    validityChanged = Signal(bool)
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = PoolForm()
        self.workload = WorkloadForm()
        self.general = QLabel()
        self.general.setWordWrap(True)
        self.general.setStyleSheet("color: #d0342c;")
        self.general.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pool)
        layout.addWidget(self.workload)
        layout.addWidget(self.general)
        layout.addStretch(1)
        self._config: RunConfig | None = None
        self._problems: tuple[Problem, ...] = ()
        self._valid: bool | None = None
        self.workload.scenario.currentIndexChanged.connect(self._scenario_chosen)
        self.pool.changed.connect(self._on_changed)
        self.workload.changed.connect(self._on_changed)
        self.validate()

    # ---- values ---------------------------------------------------------------------------------

    def value(self) -> dict[str, Any]:
        """The forms' content as plain config data (not validated)."""
        return {**self.pool.value(), **self.workload.value()}

    def set_value(self, config: RunConfig | dict[str, Any]) -> None:
        """Fill both forms from a config (a RunConfig or its JSON data) and validate."""
        data = config.to_json() if isinstance(config, RunConfig) else dict(config)
        blocked = [self.pool.blockSignals(True), self.workload.blockSignals(True)]
        try:
            self.pool.set_value(data)
            self.workload.set_value(data)
        finally:
            self.pool.blockSignals(blocked[0])
            self.workload.blockSignals(blocked[1])
        self._on_changed()

    def config(self) -> RunConfig | None:
        """The validated config, or None while any field is invalid."""
        return self._config

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every current problem (empty when the config is valid)."""
        return self._problems

    def is_valid(self) -> bool:
        """Whether the forms hold a runnable config."""
        return self._config is not None

    # ---- validation -----------------------------------------------------------------------------

    def _scenario_chosen(self) -> None:
        # A scenario runs one Process per role and no timeout may end its main program: set the
        # pool up for it (each change revalidates the forms).
        if self.workload.scenario.currentData():
            set_combo_value(self.pool.backend, "process")
            self.pool.task_timeout_s.clear()
            self.pool.maxtasksperchild.clear()  # (a Process per role is never replaced)
        self._name_scenario_fields()

    def _name_scenario_fields(self) -> None:
        """A scenario's fields under the names of what they size in it, those it ignores greyed out:
        "Workers 2" beside a Lock's four processes, and "Tasks 5" for four of them, misled."""
        spec = SCENARIO_SPECS.get(self.workload.scenario.currentData() or "")
        pool, workload = self.pool, self.workload
        if spec is None:
            pool.rename("workers")
            workload.rename("workload.count")
        else:
            pool.rename("workers", spec.workers_label, spec.workers_means or (
                "Not used by this scenario: it starts one Process per role (Tasks, less the main program)."))
            workload.rename("workload.count", "Tasks (with main)",
                            f"Each task is a process of the scenario: {spec.count_means}.")
        pool.workers.setEnabled(spec is None or bool(spec.workers_means))
        pool.maxtasksperchild.setEnabled(spec is None)

    def _on_changed(self) -> None:
        self.validate()
        self.edited.emit()

    def validate(self) -> RunConfig | None:
        """Check the forms now, show every problem next to its field; returns the config or None."""
        problems: list[Problem] = []
        config: RunConfig | None = None
        args_problem = self.workload.args_problem()
        if args_problem:
            problems.append(Problem("workload.args", args_problem))
        try:
            config = parse_config(self.value())
        except ConfigError as exc:
            problems.extend(exc.problems)
        backend = self.pool.value()["backend"]
        if not backend_available(backend):
            problems.append(Problem("backend", f"{backend_label(backend)} is not available in "
                                               "this build yet"))
        if problems:
            config = None
        self._show(problems)
        self._config = config
        self._problems = tuple(problems)
        valid = config is not None
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return config

    def _show(self, problems: list[Problem]) -> None:
        by_field: dict[str, str] = {}
        for p in problems:
            by_field[p.field] = f"{by_field[p.field]}; {p.message}" if p.field in by_field else p.message
        owned = self.pool.show_problems(by_field) | self.workload.show_problems(by_field)
        rest = [f"{name}: {msg}" for name, msg in by_field.items() if name not in owned]
        self.general.setText("\n".join(rest))
        self.general.setVisible(bool(rest))

    def field_label(self, field: str) -> str:
        """The label a person sees for config field ``field`` (dotted name), else the name itself."""
        for section in (self.pool, self.workload):
            row = section.rows.get(field)
            if row is not None:
                label = section.layout_.labelForField(row)
                if isinstance(label, QLabel):
                    return label.text()
        return field

    def problem_text(self, field: str) -> str:
        """The reason shown next to ``field`` (dotted name), or ""."""
        row = self.pool.rows.get(field) or self.workload.rows.get(field)
        return row.problem if row is not None else ""
