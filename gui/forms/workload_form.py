"""The Workload form: what each task does, how many there are and how long each takes."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from procviz.engine.config import DISTRIBUTIONS, KINDS, MAX_TASKS
from procviz.engine.safe_json import InputError, loads_checked
from procviz.gui.forms.fields import combo, combo_value, line_edit, number_or_text, set_combo_value, text_of
from procviz.gui.forms.section import FormSection

KIND_LABELS = {
    "cpu": "cpu: busy loop (on-CPU)",
    "sleep": "sleep (waiting)",
    "io": "io: write + fsync (waiting on disk)",
    "mixed": "mixed: 5 ms CPU / 5 ms sleep",
    "function": "function: module:function",
}
DISTRIBUTION_LABELS = {
    "fixed": "fixed",
    "uniform": "uniform ± spread",
    "normal": "normal, σ = spread",
    "exponential": "exponential",
}
ARGS_EXAMPLE = "[[1], [2], [3]]"
NO_SCENARIO = "independent tasks (no scenario)"


def scenario_names() -> tuple[str, ...]:
    """The cooperating-process scenarios this engine can run (none on an engine without them)."""
    from procviz.engine.specs import SCENARIO_SPECS

    return tuple(SCENARIO_SPECS)


class ArgsParseError(ValueError):
    """The arguments text is not JSON; carries a message for the form."""


def parse_args_text(text: str) -> Any:
    """The arguments text as JSON data, None when blank; raises :class:`ArgsParseError`."""
    if not text.strip():
        return None
    try:
        return loads_checked(text)  # depth, huge integers, repeated keys refused by place
    except ValueError as exc:  # (an InputError says "is not valid JSON: ..." or what else it refused)
        said = str(exc)
        if isinstance(exc, InputError):  # its place only when short (a too-deep one is [0][0][0]...)
            said = f"{exc.where} {exc.problem}" if exc.where and len(exc.where) <= 24 else exc.problem
        said = said if "JSON" in said else f"is not usable JSON: {said}"
        raise ArgsParseError(f"{said}; write one list per task, e.g. {ARGS_EXAMPLE}") from None


class WorkloadForm(FormSection):
    """Kind, count, duration + distribution + spread, seed, and module:function with JSON args."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Workload", prefix="workload.", parent=parent)
        self.scenario = combo([("", NO_SCENARIO), *((s, s.replace("_", " ")) for s in scenario_names())])
        self.kind = combo((k, KIND_LABELS.get(k, k)) for k in KINDS)
        self.count = line_edit(f"1..{MAX_TASKS:,}")
        self.duration_ms = line_edit("ms per task")
        self.distribution = combo((d, DISTRIBUTION_LABELS.get(d, d)) for d in DISTRIBUTIONS)
        self.spread_ms = line_edit("ms")
        self.seed = line_edit("0")
        self.function = line_edit("module:function, e.g. engine.demo_tasks:square")
        self.args = QPlainTextEdit()
        self.args.setPlaceholderText(f"JSON, one argument list per task, e.g. {ARGS_EXAMPLE}")
        self.args.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.args.setMaximumHeight(80)
        self.args.setTabChangesFocus(True)
        # Connected before add_row: enabling/disabling must happen before the form validates.
        self.kind.currentIndexChanged.connect(self._update_enabled)
        self.distribution.currentIndexChanged.connect(self._update_enabled)
        self.args.textChanged.connect(self._update_enabled)
        self.add_row("scenario", "Scenario", self.scenario,
                     "A tutorial program of cooperating processes (Queue, Pipe, Lock, Manager, ...) instead "
                     "of independent tasks: one Process per role, on backend 'process'. Tasks counts the "
                     "main program plus the role processes.", top_level=True)
        self.add_row("kind", "Kind", self.kind, "What every task does.")
        self.add_row("count", "Tasks", self.count, f"How many tasks, 1 to {MAX_TASKS:,}.")
        self.add_row("duration_ms", "Duration (ms)", self.duration_ms,
                     "Work per task: CPU time for cpu, time blocked for sleep and io, both for mixed.")
        self.add_row("distribution", "Distribution", self.distribution,
                     "How task durations vary: fixed; uniform in duration ± spread; normal with mean "
                     "duration and standard deviation spread; exponential with mean duration.")
        self.add_row("spread_ms", "Spread (ms)", self.spread_ms,
                     "uniform: half-width of the range; normal: standard deviation.")
        self.add_row("seed", "Seed", self.seed, "Random seed: the same seed draws the same durations.")
        self.add_row("function", "Function", self.function,
                     "An importable top-level function, module:function (kind 'function' only).")
        self.add_row("args", "Arguments", self.args,
                     "JSON list of argument lists, one per task. Blank: call it with no arguments, "
                     "'Tasks' times.")
        self.set_value({})

    def _is_function(self) -> bool:
        return combo_value(self.kind) == "function"

    def _update_enabled(self) -> None:
        fn = self._is_function()
        self.function.setEnabled(fn)
        self.args.setEnabled(fn)
        for w in (self.duration_ms, self.distribution):
            w.setEnabled(not fn)
        self.spread_ms.setEnabled(not fn and combo_value(self.distribution) in ("uniform", "normal"))
        # With explicit arguments the task count is their number: show it, do not edit it.
        args_given = fn and bool(self.args.toPlainText().strip())
        self.count.setReadOnly(args_given)
        self.count.setEnabled(not args_given)
        if args_given:
            try:
                parsed = parse_args_text(self.args.toPlainText())
                if isinstance(parsed, list):
                    self.count.setText(str(len(parsed)))
            except ArgsParseError:
                pass

    def args_problem(self) -> str:
        """Why the arguments text cannot be read as JSON, or ""."""
        if not self._is_function():
            return ""
        try:
            parse_args_text(self.args.toPlainText())
        except ArgsParseError as exc:
            return str(exc)
        return ""

    def value(self) -> dict[str, Any]:
        """The workload fields as plain config data: ``{"workload": {...}}`` and the scenario, if any."""
        kind = combo_value(self.kind)
        data: dict[str, Any] = {
            "kind": kind,
            "count": number_or_text(self.count.text(), blank="", integer=True),
            "seed": number_or_text(self.seed.text(), blank=0, integer=True),
        }
        if kind == "function":
            data["function"] = self.function.text().strip()
            try:
                args = parse_args_text(self.args.toPlainText())
            except ArgsParseError:
                args = None  # reported by args_problem(); keep validating the other fields
            if args is not None:
                data["args"] = args
                data.pop("count")
        else:
            data["duration_ms"] = number_or_text(self.duration_ms.text(), blank="")
            data["distribution"] = combo_value(self.distribution)
            if self.spread_ms.isEnabled():
                data["spread_ms"] = number_or_text(self.spread_ms.text(), blank=0.0)
        scenario = combo_value(self.scenario)
        return {"workload": data, **({"scenario": scenario} if scenario else {})}

    def set_value(self, config: dict[str, Any]) -> None:
        """Fill the fields from config data (the ``workload`` part); missing fields get defaults."""
        w = config.get("workload") or {}
        set_combo_value(self.scenario, config.get("scenario") or "")
        set_combo_value(self.kind, w.get("kind", "cpu"))
        set_combo_value(self.distribution, w.get("distribution", "fixed"))
        self.count.setReadOnly(False)
        self.count.setText(text_of(w.get("count", 20)))
        self.duration_ms.setText(text_of(w.get("duration_ms", 100.0)))
        self.spread_ms.setText(text_of(w.get("spread_ms", 0.0)))
        self.seed.setText(text_of(w.get("seed", 0)))
        self.function.setText(str(w.get("function", "") or ""))
        args = w.get("args")
        self.args.setPlainText(json.dumps([list(a) for a in args]) if args else "")
        self._update_enabled()
