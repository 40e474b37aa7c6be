"""What a plain ``procviz run`` imports, and how it imports numpy (issue 10's fixed cost).

Each of these modules cost 10-20 ms of a small run's time and none is needed by it: the progress
bar's rich (no terminal here), the version lookup's importlib.metadata, numpy.random (a fixed
duration draws nothing), numpy.ma (np.unique pulled it in at the end of every run), the presets
and the file formats (no --preset, no --out), psutil (the sampler reads /proc itself). ``-X importtime``
is inherited by the spawned workers, so the set below covers the parent and its workers.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NOT_ON_A_PLAIN_RUN = ("rich", "importlib.metadata", "numpy.random", "numpy.ma", "procviz.engine.presets",
                      "procviz.engine.formats", "psutil")


def _imported(args: list[str], env: dict[str, str] | None = None) -> tuple[set[str], str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "procviz", *args], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}, proc.stdout


def test_a_plain_run_without_a_terminal_imports_none_of_what_it_does_not_use() -> None:
    imported, out = _imported(["run", "--workers", "2", "--kind", "cpu", "--count", "4", "--duration-ms", "0"])
    assert "outcome: completed" in out
    assert "numpy" in imported and "procviz.engine.run_loop" in imported  # the check sees what it should
    assert not [m for m in imported if m.partition(".")[0] == "rich" or m in NOT_ON_A_PLAIN_RUN]


def test_version_is_still_looked_up_when_asked_for() -> None:
    imported, out = _imported(["--version"])
    assert out.startswith("procviz ") and out.split()[1][0].isdigit()
    assert "importlib.metadata" in imported and "numpy" not in imported


def _numpy_threads(code: str, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                                            "OMP_NUM_THREADS")}
    script = ("import os\nfrom procviz.engine.numpy_import import import_numpy\n" + code +
              "\nprint(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS', '-'))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**base, **env}, check=True)
    return proc.stdout.split()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_numpy_is_imported_without_blas_threads_and_the_environment_is_left_as_it_was() -> None:
    threads, variable = _numpy_threads("import_numpy('spawn')")
    assert threads == "1" and variable == "-"  # no OpenBLAS pool; the workers started later see no variable


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_a_thread_count_the_user_chose_is_kept() -> None:
    assert _numpy_threads("import_numpy('spawn')", OPENBLAS_NUM_THREADS="2")[1] == "2"


def test_fork_workers_get_the_blas_a_bare_pool_would_give_them() -> None:
    # fork workers inherit the parent's loaded OpenBLAS: it must not be limited for them
    forked, _ = _numpy_threads("import_numpy('fork')")
    plain, _ = _numpy_threads("import numpy")
    assert forked == plain


READERS_AND_OTHER_WRITERS = ("procviz.engine.formats.read", "procviz.engine.formats.native_read",
                             "procviz.engine.formats.csv_read", "procviz.engine.formats.chrome_read",
                             "procviz.engine.formats.csv_write", "procviz.engine.formats.chrome_write")


def test_a_run_writing_its_timeline_imports_only_the_native_writer(tmp_path) -> None:
    out = tmp_path / "t.json"
    imported, _ = _imported(["run", "--workers", "2", "--kind", "cpu", "--count", "4", "--duration-ms", "0",
                             "--quiet", "--out", str(out)])
    assert out.exists() and "procviz.engine.formats.native_write" in imported  # the check sees what it should
    assert not [m for m in imported if m in READERS_AND_OTHER_WRITERS]
    from procviz.engine.formats import read_timeline  # the lazy names still resolve (and to the real thing)

    assert read_timeline(out).n_tasks == 4
