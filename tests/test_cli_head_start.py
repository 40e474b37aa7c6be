"""``procviz run`` asks for a Pool run's workers before it imports numpy and the engine (issue 10).

The spawned workers boot (~120 ms) while the parent imports (~100 ms), instead of after. These
tests pin the order and what it must not break: the Pool is created with no numpy in the parent,
its creation ends before numpy's import sets its OpenBLAS variable (so no worker inherits it), the
modules on that path stay numpy-free, the engine takes the run over whole, and a head start the
engine never takes leaves no worker behind.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import wait_gone, worker_pids

from procviz.engine.config import parse_config
from procviz.engine.head_start import HeadStart, wants_head_start
from procviz.engine.runner import Engine

PROBE = """
import json, os, sys, threading
import procviz.engine.backends.pool_creation as pc
import procviz.engine.cli as cli

seen = {}
create = pc.PoolCreation.create

def helpers():
    from multiprocessing import resource_tracker
    from procviz.engine.guardian import guardian

    return [guardian.pid or None, resource_tracker._resource_tracker._pid]

creations = []

def probed(self):
    creations.append(self)
    seen["numpy_at_creation"] = "numpy" in sys.modules
    seen["helpers_at_creation"] = helpers()
    seen["blas_variable_at_creation"] = os.environ.get("OPENBLAS_NUM_THREADS")
    return create(self)

pc.PoolCreation.create = probed
import procviz.engine.preflight as pf
check_init = pf.ImportCheck.__init__
seen["checks"] = 0

def probed_check(self, *args, **kwargs):
    seen["checks"] += 1
    seen.setdefault("numpy_at_check", "numpy" in sys.modules)
    check_init(self, *args, **kwargs)

pf.ImportCheck.__init__ = probed_check
seen["order"] = []
check_wait = pf.ImportCheck.wait

handed = threading.Event()

def probed_wait(self, *args, **kwargs):
    if os.environ.get("PROBE_VERDICT_AFTER_TASKS"):  # a check slower than the Pool's creation
        handed.wait(20)
    verdict = check_wait(self, *args, **kwargs)
    seen["order"].append("verdict")
    return verdict

pf.ImportCheck.wait = probed_wait
submit_early = pc.submit_early

def probed_submit(*args, **kwargs):
    seen["order"].append("tasks handed")
    try:
        return submit_early(*args, **kwargs)
    finally:
        handed.set()

pc.submit_early = probed_submit
import_numpy = cli.import_numpy

def probed_numpy(*args):
    # started: the process exists (exec'd with the environment of that moment), not only made
    started = sum(p._popen is not None for c in creations for p in list(c.created.values()))
    seen.setdefault("workers_started_before_numpy", started)
    import_numpy(*args)

cli.import_numpy = probed_numpy
seen["code"] = cli.main(sys.argv[1:])
seen["helpers_alive_after"] = [os.waitpid(pid, os.WNOHANG)[0] == 0 for pid in helpers() if pid]
print("PROBE " + json.dumps(seen))
"""


def _probe(*args: str, **extra_env: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                                           "OMP_NUM_THREADS")}
    env.update(extra_env)
    proc = subprocess.run([sys.executable, "-c", PROBE, "run", *args], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


def test_a_pool_run_creates_its_workers_before_numpy_is_imported() -> None:
    seen = _probe("--workers", "2", "--kind", "cpu", "--count", "4", "--duration-ms", "0", "--quiet")
    assert seen["code"] == 0
    assert seen["numpy_at_creation"] is False
    assert seen["workers_started_before_numpy"] == 2  # started, not only begun: see the next assertion
    assert seen["blas_variable_at_creation"] is None  # workers inherit the environment of their creation


def test_the_helpers_start_before_the_workers_and_are_not_swept_with_the_run() -> None:
    # the guardian and multiprocessing's resource tracker boot while the parent imports, not with
    # the workers; they serve every run, so the run's sweep leaves them alone
    seen = _probe("--workers", "2", "--kind", "cpu", "--count", "2", "--duration-ms", "0", "--quiet")
    assert seen["code"] == 0
    guardian_pid, tracker_pid = seen["helpers_at_creation"]
    assert guardian_pid and tracker_pid
    assert seen["helpers_alive_after"] == [True, True]


def test_a_function_workload_checks_its_module_while_its_pool_boots_and_takes_its_tasks() -> None:
    # its module is imported in a child (preflight) while the parent imports numpy and the engine
    # and the Pool's workers boot (started before that import: its OpenBLAS variable reaches none
    # of them); the Pool's tasks are handed over as it is made, not held for the check's verdict
    # (here a verdict taken only once they were: holding them would keep it waiting 20 s)
    seen = _probe("--workers", "2", "--kind", "function", "--function", "procviz.engine.worker.demo_tasks:noop",
                  "--count", "2", "--quiet", PROBE_VERDICT_AFTER_TASKS="1")
    assert seen["code"] == 0
    assert seen["numpy_at_check"] is False
    assert seen["numpy_at_creation"] is False
    assert seen["workers_started_before_numpy"] == 2
    assert seen["blas_variable_at_creation"] is None
    assert seen["checks"] == 1  # the engine used the check begun early, it did not make another
    assert seen["order"] == ["tasks handed", "verdict"], seen["order"]


@pytest.mark.parametrize(("data", "wanted"), [
    ({"backend": "pool", "workload": {"kind": "cpu", "count": 2}}, True),
    ({"backend": "pool", "workload": {"kind": "sleep", "count": 2}}, True),
    ({"backend": "pool", "workload": {"kind": "function", "count": 2,
                                      "function": "procviz.engine.worker.demo_tasks:noop"}}, True),
    ({"backend": "process_pool_executor", "workload": {"kind": "cpu", "count": 2}}, False),
    ({"backend": "process", "scenario": "pipe_ping_pong"}, False),
])
def test_only_pool_runs_get_a_head_start(data: dict, wanted: bool) -> None:
    assert wants_head_start(parse_config(data)) is wanted


def test_the_head_start_path_imports_no_numpy() -> None:
    code = ("import sys\nimport procviz.engine.cli, procviz.engine.head_start, procviz.engine.backends.pool_creation\n"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_the_engine_takes_a_head_start_over_whole() -> None:
    config = parse_config({"workers": 2, "workload": {"kind": "cpu", "count": 6, "duration_ms": 1}})
    head = HeadStart(config)
    early = {p.pid for p in head.creation.created.values()} if head.creation.wait(30) else set()
    engine = Engine()
    engine.start(config, head)
    result = engine.join(60)
    assert result is not None and result.outcome == "completed", result and result.message
    assert result.timeline.run is not None and result.timeline.run.t0_ns == head.t0_ns
    assert early and early <= worker_pids(result)  # the head start's workers ran the tasks
    head.abandon()  # taken: nothing to do
    assert not wait_gone(worker_pids(result))
    assert not os.path.exists(head.places.receiver.address)


def test_a_head_start_the_engine_never_takes_leaves_no_worker() -> None:
    config = parse_config({"workers": 2, "workload": {"kind": "sleep", "count": 2, "duration_ms": 10}})
    head = HeadStart(config)
    head.wait_started()
    pids = {p.pid for p in head.creation.created.values()}
    assert len(pids) == 2
    head.abandon()
    assert not wait_gone(pids)
    assert not os.path.exists(os.path.dirname(head.places.receiver.address))


def test_a_failure_between_the_head_start_and_the_engine_leaves_no_worker(monkeypatch) -> None:
    # e.g. Ctrl-C while numpy is imported: the workers already exist, and no engine will end them
    import procviz.engine.backends.pool_creation as pool_creation
    import procviz.engine.cli as cli

    made: list[pool_creation.PoolCreation] = []
    begin = pool_creation.begin_creation
    monkeypatch.setattr(pool_creation, "begin_creation", lambda *a: made.append(begin(*a)) or made[-1])

    def interrupted(*args: object) -> None:
        raise RuntimeError("interrupted while importing numpy")

    monkeypatch.setattr(cli, "import_numpy", interrupted)
    with pytest.raises(RuntimeError, match="interrupted"):
        cli.main(["run", "--workers", "2", "--kind", "sleep", "--count", "2", "--duration-ms", "10", "--quiet"])
    assert len(made) == 1
    pids = {p.pid for p in made[0].created.values()}
    assert len(pids) == 2
    assert not wait_gone(pids)
    assert gc.isenabled()  # disabled for the imports only


def test_the_collector_is_off_for_the_imports_only(monkeypatch) -> None:
    import procviz.engine.cli as cli

    seen: list[bool] = []
    import_numpy = cli.import_numpy
    monkeypatch.setattr(cli, "import_numpy", lambda *a: (seen.append(gc.isenabled()), import_numpy(*a))[1])
    code = cli.main(["run", "--workers", "2", "--kind", "cpu", "--count", "2", "--duration-ms", "0", "--quiet"])
    assert code == 0
    assert seen == [False]
    assert gc.isenabled()


SIGNAL_IN_THE_IMPORT_WINDOW = """
import os, signal, sys
import procviz.engine.backends.pool_creation as pc
import procviz.engine.cli as cli

made = []
begin = pc.begin_creation
pc.begin_creation = lambda *a: made.append(begin(*a)) or made[-1]
import_numpy = cli.import_numpy

def signalled(*args):
    print("PIDS", *[p.pid for p in made[0].created.values()], flush=True)
    os.kill(os.getpid(), signal.SIG%s)  # the workers exist, the engine does not yet
    import_numpy(*args)

cli.import_numpy = signalled
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_a_signal_before_the_engine_exists_still_ends_the_run_cleanly(sig: str) -> None:
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_THE_IMPORT_WINDOW % sig, "run", "--workers", "2",
                           "--kind", "sleep", "--count", "4", "--duration-ms", "30000"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # stopped, as a signal during the run gives
    assert "cancelled 4" in proc.stdout
    pids = {int(p) for p in next(line for line in proc.stdout.splitlines() if line.startswith("PIDS")).split()[1:]}
    assert len(pids) == 2
    assert not wait_gone(pids)


def test_the_snapshot_of_this_process_children_matches_a_scan_of_proc() -> None:
    # the head start notes this process's children before any worker (RunTree, guardian.protect):
    # read from the kernel's per-thread lists, it must be what a scan of every process says
    from procviz.engine.guardian_proc import children_of, pids, stat_of

    me = os.getpid()
    kids = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        for _ in range(3):  # another child of this process may start or end between the two looks
            fast = set(children_of(me))
            scan = {pid for pid in pids() if (st := stat_of(pid)) is not None and st[0] == me}
            if fast == scan:
                break
        assert fast == scan
        assert {k.pid for k in kids} <= fast
    finally:
        for k in kids:
            k.kill()
            k.wait()


from procviz.engine.worker.process import forget_observer  # noqa: E402 - beside the tests that use it


def _creation_that_blocks(monkeypatch, workers: int, release, fail: bool = False):
    """A PoolCreation whose create() reports ``workers`` started workers, then waits for ``release``
    (as a Pool starts its own threads after its workers) and returns or raises."""
    from procviz.engine.backends import pool_creation

    config = parse_config({"workers": workers, "workload": {"kind": "cpu", "count": 2}})
    creation = pool_creation.PoolCreation(config, "unused-address")

    def create(self):
        for _ in range(workers if not fail else 1):
            self._one_started()
        release.wait(30)
        if fail:
            raise OSError("cannot start a worker")
        return "the pool"

    monkeypatch.setattr(pool_creation.PoolCreation, "create", create)
    return creation


def test_numpy_waits_for_the_workers_start_not_for_the_rest_of_the_pool_creation(monkeypatch) -> None:
    # the variable numpy's import sets must reach no worker: the wait is for their start (exec),
    # not for the Pool's threads, started afterwards while numpy is imported
    import threading

    release = threading.Event()
    creation = _creation_that_blocks(monkeypatch, 2, release)
    creation.begin()
    try:
        creation.wait_started()  # returns while create() still runs
        assert not creation.wait(0.0)
    finally:
        release.set()
    assert creation.result() == "the pool"
    forget_observer(creation.key)


def test_a_failed_creation_ends_the_wait_for_its_workers(monkeypatch) -> None:
    import threading

    release = threading.Event()
    creation = _creation_that_blocks(monkeypatch, 2, release, fail=True)
    creation.begin()
    waiter = threading.Thread(target=creation.wait_started, daemon=True)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # one of two workers started: still waiting
    release.set()
    waiter.join(30)
    assert not waiter.is_alive()
    with pytest.raises(OSError):
        creation.result()
    forget_observer(creation.key)


def test_a_worker_started_during_the_parents_numpy_import_drops_its_variable(monkeypatch) -> None:
    """A worker begun while procviz's parent imports numpy (a Pool's replacement worker) inherits
    the OpenBLAS variable set for that import, named in a marker: it drops both before the
    workload's module is imported; the user's own setting (no marker) is kept."""
    from procviz.engine import numpy_import
    from procviz.engine.worker import startup

    assert startup.SET_BY_PROCVIZ == numpy_import.SET_BY_PROCVIZ
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv(numpy_import.SET_BY_PROCVIZ, "OPENBLAS_NUM_THREADS")
    startup.drop_parent_import_variable()
    assert "OPENBLAS_NUM_THREADS" not in os.environ and numpy_import.SET_BY_PROCVIZ not in os.environ
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # the user's
    startup.drop_parent_import_variable()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


@pytest.mark.parametrize("kind", ["function", "cpu"])
def test_fork_workers_of_procviz_run_collect_garbage(tmp_path: Path, kind: str) -> None:
    """procviz run imports with the cyclic collector off; a fork worker begun meanwhile (its Pool
    is made on a thread of its own) must not run the user's tasks with it off."""
    from procviz.engine.formats.read import read_timeline

    out = tmp_path / "gc.json"
    workload = (["--kind", "function", "--function", "gc:isenabled", "--count", "4"] if kind == "function"
                else ["--kind", "cpu", "--count", "4", "--duration-ms", "0"])
    probe = ("import gc, os, sys\nfrom procviz.engine import cli\n"
             # os.write: a print in a child forked while another thread held stdout's lock would hang
             "os.register_at_fork(after_in_child=lambda: os.write(1, b'GC %d\\n' % gc.isenabled()))\n"
             "sys.exit(cli.main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", probe, "run", "--backend", "pool", "--workers", "2",
                           "--start-method", "fork", *workload, "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = [line for line in proc.stdout.splitlines() if line.startswith("GC ")]
    assert seen and all(line == "GC 1" for line in seen), seen
    if kind == "function":
        tl = read_timeline(out)
        assert {tl.texts[t].message for t in range(4)} == {"True"}
