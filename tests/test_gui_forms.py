"""The run forms: validation as you type, reasons next to fields, Run disabled, presets, memory."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.gui.forms.run_form import RunForm  # noqa: E402
from procviz.gui.presets import load_presets, presets_dir  # noqa: E402


@pytest.fixture
def form(qtbot):
    f = RunForm()
    qtbot.addWidget(f)
    f.show()
    return f


def retype(qtbot, edit, text: str) -> None:
    edit.selectAll()
    edit.clear()
    if text:
        qtbot.keyClicks(edit, text)


def test_defaults_are_valid_and_workers_default_to_cpu_count(form) -> None:
    assert form.is_valid()
    config = form.config()
    assert config is not None
    assert config.workers == (os.cpu_count() or 1)
    assert config.backend == "pool"


@pytest.mark.parametrize(
    ("field", "text", "words"),
    [
        ("workers", "0", "from 1 to"),
        ("workers", "abc", "'abc'"),
        ("chunksize", "0", "from 1 to"),
        ("workload.duration_ms", "-5", "-5"),
        ("workload.count", "0", "from 1 to"),
        ("task_timeout_s", "0", "(got 0)"),
    ],
)
def test_invalid_value_shows_reason_next_to_field_and_blocks_run(qtbot, form, field, text, words) -> None:
    states: list[bool] = []
    form.validityChanged.connect(states.append)
    row = form.pool.rows.get(field) or form.workload.rows[field]
    retype(qtbot, row.editor, text)
    assert not form.is_valid()
    assert form.config() is None
    assert states and states[-1] is False
    reason = form.problem_text(field)
    assert words in reason, reason
    assert row.error.isVisible()
    # Other fields stay quiet: the reason sits next to the field that caused it.
    others = [name for name in {**form.pool.rows, **form.workload.rows} if name != field]
    assert all(form.problem_text(name) == "" for name in others)
    retype(qtbot, row.editor, "2" if field != "task_timeout_s" else "")
    assert form.is_valid(), form.problems
    assert not row.error.isVisible()
    assert states[-1] is True


def test_bad_function_string_and_bad_args_json(qtbot, form) -> None:
    form.workload.kind.setCurrentIndex(form.workload.kind.findData("function"))
    assert not form.is_valid()
    assert "module:function" in form.problem_text("workload.function")
    retype(qtbot, form.workload.function, "not a function")
    assert "module:function" in form.problem_text("workload.function")
    retype(qtbot, form.workload.function, "procviz.engine.worker.demo_tasks:square")
    assert form.is_valid(), form.problems
    form.workload.args.setPlainText("[[1], [2]")
    assert not form.is_valid()
    assert form.problem_text("workload.args").count("JSON") == 1  # said once ("is not valid JSON (is not valid JSON")
    assert "not valid JSON: Expecting" in form.problem_text("workload.args")
    form.workload.args.setPlainText("[[1], [" + "[" * 100 + "]" * 100 + "]]")
    assert "nested more than" in form.problem_text("workload.args")
    assert "[0][0][0]" not in form.problem_text("workload.args")
    form.workload.args.setPlainText("[1, 2]")
    assert "argument lists" in form.problem_text("workload.args")
    form.workload.args.setPlainText("[[1], [2], [3]]")
    assert form.is_valid(), form.problems
    assert form.config().workload.args == ((1,), (2,), (3,))
    assert form.workload.count.text() == "3"


def test_chunksize_is_not_offered_for_apply(qtbot, form) -> None:
    retype(qtbot, form.pool.chunksize, "4")
    form.pool.api.setCurrentIndex(form.pool.api.findData("apply_async"))
    assert not form.pool.chunksize.isEnabled()
    assert form.is_valid(), form.problems
    assert form.config().chunksize is None


def test_value_and_set_value_round_trip(form) -> None:
    data = {"backend": "pool", "workers": 3, "start_method": "forkserver", "api": "imap_unordered",
            "chunksize": 4, "maxtasksperchild": 2, "task_timeout_s": 1.5, "order": "sjf",
            "workload": {"kind": "sleep", "count": 12, "duration_ms": 40.0, "distribution": "normal",
                         "spread_ms": 5.0, "seed": 9}}
    config = parse_config(data)
    form.set_value(config)
    assert form.is_valid(), form.problems
    assert form.config() == config
    assert parse_config(form.value()) == config


def test_every_shipped_preset_is_valid_and_fills_the_form(form) -> None:
    presets, problems = load_presets()
    assert problems == []
    assert len(presets) >= 8
    names = " ".join(p.name for p in presets)
    for needed in ("Pool(10).map", "serially", "apply:", "apply_async", "imap_unordered", "more workers"):
        assert needed.lower() in names.lower(), needed
    for preset in presets:
        form.set_value(preset.config)
        assert form.is_valid(), (preset.name, form.problems)
        assert form.config() == parse_config(preset.config)


def test_preset_workers_per_cpu_scales_with_the_machine(tmp_path) -> None:
    from procviz.gui.presets import load_preset

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "x", "workers_per_cpu": 2, "config": {"workload": {"kind": "cpu"}}}))
    assert load_preset(path, cpu_count=3).config["workers"] == 6
    assert presets_dir().is_dir()


def test_broken_preset_is_reported_not_fatal(tmp_path) -> None:
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({"name": "bad", "config": {"workers": 0}}))
    (tmp_path / "c.json").write_text(json.dumps({"name": "ok", "config": {"workers": 1}}))
    presets, problems = load_presets(tmp_path)
    assert [p.name for p in presets] == ["ok"]
    assert len(problems) == 2 and "a.json" in problems[0] and "workers" in problems[1]


def test_field_reasons_are_readable_in_a_screenshot(qtbot, form, tmp_path) -> None:
    form.resize(380, 900)
    retype(qtbot, form.pool.workers, "abc")
    qtbot.keyClick(form.pool.workers, Qt.Key.Key_End)
    image = form.grab()
    assert image.width() > 0
    image.save(str(tmp_path / "form_invalid.png"))
    assert form.pool.rows["workers"].error.height() > 0


def test_backend_offers_only_its_apis(form) -> None:
    from procviz.gui.forms.pool_form import backend_apis

    apis = backend_apis("thread_pool_executor")
    form.pool.api.setCurrentIndex(form.pool.api.findData("imap_unordered"))
    form.pool.backend.setCurrentIndex(form.pool.backend.findData("thread_pool_executor"))
    assert form.pool.api.currentData() in apis
    model = form.pool.api.model()
    enabled = {form.pool.api.itemData(r) for r in range(form.pool.api.count()) if model.item(r).isEnabled()}
    assert enabled == set(apis) != set(backend_apis("pool"))
    assert form.is_valid(), form.problems


def test_choosing_a_scenario_picks_the_process_backend(form) -> None:
    from procviz.gui.forms.workload_form import scenario_names

    names = scenario_names()
    if not names:
        pytest.skip("this engine has no scenarios")
    form.pool.task_timeout_s.setText("5")
    form.workload.scenario.setCurrentIndex(form.workload.scenario.findData(names[0]))
    assert form.pool.backend.currentData() == "process"
    assert form.pool.task_timeout_s.text() == ""
    config = form.config()
    assert config is not None, form.problems
    assert config.scenario == names[0] and config.backend == "process"
    form.workload.scenario.setCurrentIndex(0)
    assert form.config().scenario == ""


def test_a_scenario_names_the_fields_by_what_they_size_in_it(form) -> None:
    def label(section, field: str) -> str:
        return section.layout_.labelForField(section.rows[field]).text()

    choose = form.workload.scenario
    form.pool.maxtasksperchild.setText("3")
    choose.setCurrentIndex(choose.findData("lock_critical_section"))
    assert label(form.pool, "workers") == "Workers" and not form.pool.workers.isEnabled()
    assert "Not used by this scenario" in form.pool.workers.toolTip()
    assert label(form.workload, "workload.count") == "Tasks (with main)"
    assert "taking turns in a Lock" in form.workload.count.toolTip()
    assert not form.pool.maxtasksperchild.isEnabled() and form.pool.maxtasksperchild.text() == ""
    assert form.is_valid(), form.problems
    choose.setCurrentIndex(choose.findData("semaphore"))
    assert label(form.pool, "workers") == "Seats" and form.pool.workers.isEnabled()
    assert "inside at once" in form.pool.workers.toolTip()
    assert form.field_label("workers") == "Seats"  # (what the list of fields to fix says too)
    choose.setCurrentIndex(choose.findData(""))
    assert label(form.pool, "workers") == "Workers" and form.pool.workers.isEnabled()
    assert label(form.workload, "workload.count") == "Tasks"
    assert form.pool.maxtasksperchild.isEnabled()
    assert form.workload.count.toolTip().startswith("How many tasks")


def test_a_pictures_header_names_a_scenarios_processes_not_workers() -> None:
    from procviz.gui.export_picture import config_line

    lock = {"scenario": "lock_critical_section", "backend": "process", "workers": 2,
            "workload": {"kind": "cpu", "duration_ms": 100, "count": 5}}
    assert "worker" not in config_line(lock) and "main + 4 processes" in config_line(lock)
    sem = {**lock, "scenario": "semaphore", "workers": 4}
    assert "4 seats" in config_line(sem)
    assert "2 workers" in config_line({"backend": "pool", "workers": 2, "workload": {"kind": "cpu", "count": 5}})
    # A drawn size says so: "sleep 150 ms ×40" read as if every task slept 150 ms (50-250 ms here).
    drawn = {"backend": "pool", "workload": {"kind": "sleep", "count": 40, "duration_ms": 150,
                                             "distribution": "uniform", "spread_ms": 100}}
    assert "sleep 150 ± 100 ms ×40" in config_line(drawn)
    normal = {**drawn, "workload": {**drawn["workload"], "distribution": "normal", "spread_ms": 20}}
    assert "sleep 150 ± 20 ms (normal, sd) ×40" in config_line(normal)
    assert "sleep 150 ms ×40" in config_line({**drawn, "workload": {**drawn["workload"], "distribution": "fixed"}})
