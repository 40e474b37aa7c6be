"""The Pool form: which backend runs the tasks, with how many workers, through which API."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QWidget

from procviz.engine.config import MAX_WORKERS, ORDERS, START_METHODS
from procviz.engine.specs import APIS, BACKEND_SPECS, CHUNKLESS_APIS
from procviz.gui.forms.fields import combo, combo_value, line_edit, number_or_text, set_combo_value, text_of
from procviz.gui.forms.section import FormSection

ORDER_LABELS = {
    "fifo": "FIFO (as generated)",
    "sjf": "shortest job first",
    "ljf": "longest job first",
    "random": "random",
}


def backend_label(name: str) -> str:
    """What the form calls backend ``name``."""
    spec = BACKEND_SPECS.get(name)
    return spec.label if spec is not None else name


def backend_apis(name: str) -> tuple[str, ...]:
    """The submission APIs backend ``name`` offers (every API for an unknown name)."""
    spec = BACKEND_SPECS.get(name)
    return spec.apis if spec is not None else APIS


def backend_available(name: str) -> bool:
    """Whether this build can run ``name``."""
    from procviz.engine.registry import BACKENDS as AVAILABLE

    return name in AVAILABLE


class PoolForm(FormSection):
    """Backend, workers, start method, API, chunksize, maxtasksperchild, timeout, order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pool", parent=parent)
        self.backend = combo((name, spec.label) for name, spec in BACKEND_SPECS.items())
        self.workers = line_edit(f"CPU count ({os.cpu_count() or 1})")
        self.start_method = combo((m, m) for m in START_METHODS)
        self.api = combo((a, a) for a in APIS)
        self.chunksize = line_edit("auto")
        self.maxtasksperchild = line_edit("never replace")
        self.task_timeout_s = line_edit("no timeout")
        self.order = combo((o, ORDER_LABELS.get(o, o)) for o in ORDERS)
        # Connected before add_row: enabling/disabling must happen before the form validates.
        self.backend.currentIndexChanged.connect(self._offer_backend_apis)
        self.api.currentIndexChanged.connect(self._update_enabled)
        self.add_row("backend", "Backend", self.backend, "What runs the tasks.")
        self.add_row("workers", "Workers", self.workers,
                     f"Worker processes (or threads), 1 to {MAX_WORKERS}. Default: the CPU count "
                     f"({os.cpu_count() or 1}).")
        self.add_row("start_method", "Start method", self.start_method,
                     "How workers are created. spawn starts a fresh interpreter (slow, safe); fork copies "
                     "this process (fast, but unsafe with threads).")
        self.add_row("api", "API", self.api, "The Pool method that submits the tasks.")
        self.add_row("chunksize", "Chunksize", self.chunksize,
                     "Tasks sent to a worker at once. Blank: the Pool's own default for the API.")
        self.add_row("maxtasksperchild", "Max tasks per child", self.maxtasksperchild,
                     "Replace a worker after this many chunks. Blank: never.")
        self.add_row("task_timeout_s", "Task timeout (s)", self.task_timeout_s,
                     "A task running longer ends as timed out and its worker is terminated. Blank: none.")
        self.add_row("order", "Submission order", self.order,
                     "Order in which tasks are submitted: the scheduling rule the pool sees.")
        self.set_value({})

    def _update_enabled(self) -> None:
        self.chunksize.setEnabled(combo_value(self.api) not in CHUNKLESS_APIS)

    def _offer_backend_apis(self) -> None:
        """Grey out the APIs the chosen backend lacks, and leave one it has selected."""
        apis = backend_apis(combo_value(self.backend))
        model = self.api.model()
        if isinstance(model, QStandardItemModel):
            for row in range(self.api.count()):
                model.item(row).setEnabled(self.api.itemData(row) in apis)
        if combo_value(self.api) not in apis:
            set_combo_value(self.api, apis[0])

    def value(self) -> dict[str, Any]:
        """The pool fields as plain config data (possibly invalid; the validator decides)."""
        return {
            "backend": combo_value(self.backend),
            "workers": number_or_text(self.workers.text(), blank=os.cpu_count() or 1, integer=True),
            "start_method": combo_value(self.start_method),
            "api": combo_value(self.api),
            "chunksize": (number_or_text(self.chunksize.text(), integer=True)
                          if self.chunksize.isEnabled() else None),
            "maxtasksperchild": number_or_text(self.maxtasksperchild.text(), integer=True),
            "task_timeout_s": number_or_text(self.task_timeout_s.text()),
            "order": combo_value(self.order),
        }

    def set_value(self, config: dict[str, Any]) -> None:
        """Fill the fields from config data; missing fields get their defaults."""
        set_combo_value(self.backend, config.get("backend", "pool"))
        self.workers.setText(text_of(config.get("workers", os.cpu_count() or 1)))
        set_combo_value(self.start_method, config.get("start_method", "spawn"))
        self._offer_backend_apis()
        set_combo_value(self.api, config.get("api", "map"))
        self.chunksize.setText(text_of(config.get("chunksize")))
        self.maxtasksperchild.setText(text_of(config.get("maxtasksperchild")))
        self.task_timeout_s.setText(text_of(config.get("task_timeout_s")))
        set_combo_value(self.order, config.get("order", "fifo"))
        self._update_enabled()
