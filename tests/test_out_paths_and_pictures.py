"""Where a file goes, and pictures written as every other file is (found by a file-handling campaign).

A PNG was written in place by QImage.save, whose failed flush went unseen: a full disk left a cut
PNG and exit code 0, and a failed SVG or PNG write left a half file where a good one had been.
A name of 220-255 bytes was refused (the temporary's name was longer than the folder allows), one
over 255 gave a traceback, and ``run --out`` into a dangling link, a loop of links or under a
plain file was refused only after the run. A lane name of thousands of characters took the
picture's label seconds to cut, and a control character in a name made the SVG unreadable XML.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from synthetic import synth_timeline  # noqa: E402

from procviz.engine.formats import write_timeline  # noqa: E402
from procviz.gui import export_picture  # noqa: E402
from procviz.gui.render import render_timeline  # noqa: E402

APP = [sys.executable, "-m", "procviz"]
SVG = "{http://www.w3.org/2000/svg}"
FILE_LIMIT = 8192  # bytes a child may write to one file: less than any picture of a run


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    write_timeline(synth_timeline(n_tasks=200, n_lanes=4, chunksize=2), path)
    return path


def _limited() -> None:
    """(In the child, before exec.) Writes past FILE_LIMIT bytes fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_a_picture_that_cannot_be_written_whole_leaves_the_old_one_and_says_so(tmp_path, source, suffix) -> None:
    out = tmp_path / f"chart.{suffix}"
    out.write_bytes(b"the picture before")
    proc = subprocess.run([*APP, "export", str(source), "--out", str(out)], capture_output=True, text=True,
                          timeout=120, preexec_fn=_limited)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and f"cannot write {out}" in proc.stderr, proc.stderr
    assert out.read_bytes() == b"the picture before"  # not cut, not emptied
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, source.name]  # no temporary left
    written = subprocess.run([*APP, "export", str(source), "--out", str(out)], capture_output=True, text=True,
                             timeout=120)
    assert written.returncode == 0, written.stderr
    assert out.stat().st_size > FILE_LIMIT  # (the limit is what failed the first write)


def test_any_name_the_folder_takes_is_written_and_a_longer_one_is_refused_in_one_line(tmp_path, source) -> None:
    longest = tmp_path / ("n" * 250 + ".json")  # 255 bytes: the usual limit
    proc = subprocess.run([*APP, "export", str(source), "--out", str(longest)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert longest.stat().st_size > 0
    too_long = tmp_path / ("n" * 251 + ".json")
    for command in (["export", str(source)], ["run", "--kind", "sleep", "--count", "1", "--duration-ms", "60000"]):
        proc = subprocess.run([*APP, *command, "--out", str(too_long)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith("file name too long"), lines


def test_run_refuses_before_the_run_what_its_write_would_refuse_after_it(tmp_path) -> None:
    (tmp_path / "plain").write_text("a file")
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere" / "t.json")
    (tmp_path / "loop1.json").symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(tmp_path / "loop1.json")
    for name, says in (("plain/t.json", "not a directory"), ("dangling.json", "does not exist"),
                       ("loop1.json", "symbolic links")):
        started = time.monotonic()
        proc = subprocess.run([*APP, "run", "--kind", "sleep", "--count", "1", "--duration-ms", "60000",
                               "--out", str(tmp_path / name)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert time.monotonic() - started < 50  # refused, not run (its task sleeps 60 s)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.json", "loop1.json", "loop2.json", "plain"]


def _named(tl, name: str):  # noqa: ANN001, ANN202 - a Timeline
    tl.lanes[0] = dataclasses.replace(tl.lanes[0], name=name)
    return tl


def test_a_control_character_in_a_name_leaves_the_svg_well_formed(qapp, tmp_path) -> None:
    out = tmp_path / "t.svg"
    render_timeline(_named(synth_timeline(n_tasks=20, n_lanes=2), "role\x01\x0b\ud800 1"), out)
    texts = ["".join(t.itertext()) for t in ET.parse(out).getroot().iter(f"{SVG}text")]
    assert any(text.startswith("role\ufffd\ufffd\ufffd 1") for text in texts), texts


def test_a_label_of_a_million_characters_is_cut_with_a_few_short_measurements(qapp, tmp_path, monkeypatch) -> None:
    measured: list[int] = []
    real = export_picture.QFontMetricsF

    class Counting(real):  # type: ignore[misc, valid-type]
        def horizontalAdvance(self, text, *args):  # noqa: ANN001, ANN202, N802 - Qt's name
            measured.append(len(text))
            return super().horizontalAdvance(text, *args)

    monkeypatch.setattr(export_picture, "QFontMetricsF", Counting)
    out = tmp_path / "t.svg"
    render_timeline(_named(synth_timeline(n_tasks=20, n_lanes=2), "x" * 1_000_000), out)
    label = next(t for t in ("".join(e.itertext()) for e in ET.parse(out).getroot().iter(f"{SVG}text"))
                 if t.startswith("xxx"))
    assert label.endswith("…") and export_picture.text_width(label, export_picture.TEXT_PX) <= \
        export_picture.MAX_LABEL_PX + 1
    assert sum(measured) < 100_000, (len(measured), max(measured))  # not the million, not once a character


def test_a_dash_or_a_compressed_picture_is_refused_with_what_to_give_instead(tmp_path, source) -> None:
    for out, says in (("-", "/dev/stdout and --format"), ("chart.svg.gz", "not compressed"),
                      ("chart.PNG.gz", "not compressed")):
        proc = subprocess.run([*APP, "export", str(source), "--out", out], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert says in proc.stderr and "gui.render" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]  # no file named "-"
    proc = subprocess.run([*APP, "export", str(source), "--out", "/dev/stdout", "--format", "json"],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith(b'{"format":"procviz-timeline"'), proc.stderr


def test_a_picture_size_is_checked_before_the_file_is_read_and_refused_for_a_timeline_file(tmp_path, source) -> None:
    for args, says in ((["--out", "t.csv", "--width", "800"], "--width sizes a picture"),
                       (["--out", "t.json", "--width", "800", "--height", "600"], "and --height size a picture"),
                       (["--out", "t.png", "--width", "50"], "--width must be from 100 to 20000 pixels (got 50)"),
                       (["--out", "t.svg", "--height", "30000"], "--height must be from 100")):
        # (the input does not exist: a size problem is said first, as an --out one is)
        proc = subprocess.run([*APP, "export", str(tmp_path / "none.json"), *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert proc.returncode == 2 and says in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]
    proc = subprocess.run([*APP, "export", str(source), "--out", "t.png", "--width", "300", "--height", "200"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "t.png").read_bytes()[16:24] == (300).to_bytes(4, "big") + (200).to_bytes(4, "big")  # IHDR


def test_checking_a_runs_out_imports_no_numpy(tmp_path) -> None:
    """The check runs before the run's Pool is begun, which must come before numpy's import
    (engine/head_start.py): the temporary it makes came from a package that imported its writers,
    numpy with them (80 ms ahead of the workers)."""
    probe = ("import sys; from pathlib import Path; from procviz.engine.out_place import out_problem; "
             f"print(repr(out_problem(Path({str(tmp_path / 't.json')!r}), None, False)), 'numpy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["''", "False"], proc.stdout + proc.stderr
