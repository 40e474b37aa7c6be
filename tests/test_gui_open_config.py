"""The window's Open takes what ``procviz run --config`` takes: a run config or a preset file fills
the forms (a timeline still opens as one), a config that cannot run says every field that is wrong
and leaves the forms as they were. And the title says which run is shown once it ended."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_helpers import run_and_wait  # noqa: E402

from procviz.engine.config import parse_config  # noqa: E402
from procviz.engine.formats import write_timeline  # noqa: E402

CONFIG = {"backend": "pool", "workers": 3, "start_method": "spawn", "api": "imap", "chunksize": 4,
          "workload": {"kind": "sleep", "count": 7, "duration_ms": 12}}


def test_a_run_config_file_fills_the_forms_and_leaves_the_timeline_alone(window, tmp_path) -> None:
    path = tmp_path / "my run.json"
    path.write_text(json.dumps(CONFIG))
    title = window.windowTitle()
    assert window.open_file(path)
    assert window.form.validate().to_json() == parse_config(CONFIG).to_json()
    assert window.timeline.run is None  # nothing was opened as a timeline
    assert window.errors == []
    assert "my run.json" in window.setup.description.text()
    assert "press Run" in window.statusBar().currentMessage()
    assert window.windowTitle() == title


def test_a_preset_file_fills_the_forms_with_its_description(window, tmp_path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "Mine", "description": "Seven sleeps on three workers.", "config": CONFIG}))
    window.files.ask_open_path = lambda title: str(path)
    window.actions_.open.trigger()
    assert window.form.validate().to_json() == parse_config(CONFIG).to_json()
    assert window.setup.description.text() == "Seven sleeps on three workers."
    assert window.errors == []


def test_a_config_that_cannot_run_says_every_wrong_field_and_keeps_the_forms(window, tmp_path) -> None:
    before = window.form.validate().to_json()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workers": 0, "workload": {"kind": "nope", "count": 3}}))
    assert not window.open_file(path)
    title, text = window.errors[-1]
    assert title == "Cannot use the run config"
    assert f"{path}: workers" in text and "workload.kind" in text
    assert window.form.validate().to_json() == before
    bad_preset = tmp_path / "bad preset.json"
    bad_preset.write_text(json.dumps({"name": "x", "config": {"workers": -1}}))
    assert not window.open_file(bad_preset)
    assert "is a preset file that cannot be used" in window.errors[-1][1]
    assert window.form.validate().to_json() == before


def test_json_that_is_neither_a_config_nor_a_timeline_is_refused_as_a_timeline(window, tmp_path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"name": "something else", "items": [1, 2]}))
    assert not window.open_file(path)
    assert window.errors[-1][0] == "Cannot open the timeline"


def test_a_timeline_still_opens_as_a_timeline(window, tmp_path, synthetic_timeline) -> None:
    path = tmp_path / "t.json"
    write_timeline(synthetic_timeline, path)
    assert window.open_file(path)
    assert window.timeline.n_tasks == synthetic_timeline.n_tasks
    assert window.windowTitle() == "procviz — t.json"


def test_the_title_says_which_run_is_shown_until_it_is_saved(qtbot, window, tmp_path) -> None:
    window.form.set_value(parse_config({"workers": 2, "start_method": "spawn",
                                        "workload": {"kind": "sleep", "count": 2, "duration_ms": 1}}))
    titles: list[str] = []
    window.bridge.statusChanged.connect(lambda status: titles.append(window.windowTitle()))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "completed"
    assert titles and titles[0].startswith("procviz — live run started ")
    shown = window.windowTitle()
    assert shown.startswith("procviz — run started ") and shown.endswith(", completed (not saved)")
    assert window.save_file(tmp_path / "kept.json")
    assert window.windowTitle() == "procviz — kept.json"


def test_a_timeline_is_not_parsed_on_the_gui_thread_first_nor_a_pipe_read(window, tmp_path, synthetic_timeline,
                                                                          monkeypatch) -> None:
    from procviz.engine import cli_config

    parsed: list[object] = []
    real = cli_config._small_json
    monkeypatch.setattr(cli_config, "_small_json", lambda path: parsed.append(path) or real(path))
    for name in ("t.json", "t.trace.json"):
        write_timeline(synthetic_timeline, tmp_path / name)
        assert window.open_file(tmp_path / name)
    assert parsed == []  # told from their first key: read once, by the readers, off the GUI thread
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # no writer: opening it to look would block the window for good
    assert cli_config.config_file_of(fifo) is None


def test_a_config_that_is_not_valid_json_says_why_as_the_cli_does(window, tmp_path) -> None:
    nan = tmp_path / "nan.json"
    nan.write_text('{"workers": NaN}')
    assert not window.open_file(nan)
    assert window.errors[-1][0] == "Cannot use the run config" and "NaN" in window.errors[-1][1]
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(CONFIG).encode())
    assert not window.open_file(bom)
    assert window.errors[-1][0] == "Cannot use the run config" and "not valid JSON" in window.errors[-1][1]


def test_a_preset_file_named_as_a_shipped_preset_leaves_the_picker_on_none(window, tmp_path) -> None:
    shipped = window.setup.presets[1]
    window.setup.apply_preset(shipped)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": shipped.name, "description": "", "config": CONFIG}))
    assert window.open_file(path)
    assert window.setup.preset_box.currentIndex() == 0  # its fields are this file's, not the shipped one's
    assert window.form.validate().to_json() == parse_config(CONFIG).to_json()
    assert "mine.json" in window.setup.description.text()


def test_a_run_that_fails_before_it_shows_anything_puts_the_title_and_file_back(qtbot, window, tmp_path,
                                                                              synthetic_timeline,
                                                                              monkeypatch) -> None:
    from procviz.engine import runner

    path = tmp_path / "t.json"
    write_timeline(synthetic_timeline, path)
    assert window.open_file(path)

    def broken(*args, **kwargs):
        raise OSError("no backend today")

    monkeypatch.setattr(runner, "make_backend", broken)
    window.form.set_value(parse_config(CONFIG))
    result = run_and_wait(qtbot, window)
    assert result.outcome == "error"
    assert window.windowTitle() == "procviz — t.json"
    assert window.files.current_file == path
    assert window.timeline.n_tasks == synthetic_timeline.n_tasks
