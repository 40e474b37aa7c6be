"""Where one ``procviz run`` spends its time: a timeline of its phases, in ms since the process began.

Usage: ``python benchmarks/phases.py [RUN ARGS...]`` (default: 2 trivial tasks on 2 spawn workers,
``--quiet``). It byte-compiles procviz (as a wheel install is), then runs ``procviz run`` in a child
of its own (this script again) with probes around the engine's steps and
prints, for each, the wall time since the kernel created the process and the process's CPU time
so far: interpreter start, the CLI's imports, the helper processes (guardian, resource tracker),
the Pool's creation (for a Pool run, before numpy: ``engine/head_start.py``), numpy, the engine's
imports, the plan, the loop (the workers' hellos on the way), the shutdown, the sweep, the result,
exit.

The probes wrap functions of the engine (names may move with the code; a probe that finds no
function says so). ``benchmarks/compare.py`` gives the whole-process figures; this says where
they go. The script re-imports itself in spawned workers as their main module, so all its work
is under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

DEFAULT = ["run", "--backend", "pool", "--workers", "2", "--start-method", "spawn", "--kind", "cpu",
           "--count", "2", "--duration-ms", "0", "--quiet"]
LOG: list[tuple[int, int, int, str, str]] = []  # (wall, process CPU, thread CPU, thread, step), ns
COMPILED_ENV = "PROCVIZ_PHASES_COMPILED"  # set in the measured child, once procviz is byte-compiled
TIMELINES: list[Any] = []


def mark(what: str) -> None:
    """Note ``what`` now: wall and process CPU time, and the thread."""
    LOG.append((time.monotonic_ns(), time.process_time_ns(), time.thread_time_ns(), threading.current_thread().name,
                what))


def wrap(owner: Any, name: str, label: str = "") -> None:
    """Mark the entry and the exit of ``owner.name``."""
    fn = getattr(owner, name, None)
    if fn is None:
        mark(f"(no {name} on {owner!r} to probe)")
        return
    label = label or f"{getattr(owner, '__name__', owner)}.{name}"

    def probed(*args: Any, **kwargs: Any) -> Any:
        mark(label + " >")
        try:
            return fn(*args, **kwargs)
        finally:
            mark(label + " <")

    setattr(owner, name, probed)


def process_created_ns() -> int:
    """When the kernel created this process, on the monotonic clock (10 ms steps)."""
    from procviz.engine.worker.clock import process_created_ns as created

    return created(os.getpid()) or LOG[0][0]


def probe_engine() -> None:
    """Probes in the engine, once the CLI has imported numpy (the engine's modules come next)."""
    import procviz.engine.runner as runner
    from procviz.engine import head_start
    from procviz.engine.backends import pool

    mark("engine imported (runner)")
    wrap(runner, "build_plan")
    wrap(runner._Run, "execute", "the engine's run (runner._Run.execute)")  # noqa: SLF001
    wrap(head_start.RunPlaces, "close", "the run's sockets closed (RunPlaces.close)")
    for name in ("start", "submit", "shutdown"):
        wrap(pool.PoolBackend, name)
    describe: Callable[..., Any] = runner._Run._describe  # noqa: SLF001

    def described(self: Any, *args: Any) -> Any:
        import procviz.engine.run_loop as run_loop
        import procviz.engine.tracker as tracker

        if not getattr(run_loop, "_phases_probed", False):  # once: the run loop's module is in now
            run_loop._phases_probed = True  # type: ignore[attr-defined]
            mark("run-only modules imported (run_loop)")
            for name in ("_loop", "_shutdown"):
                wrap(run_loop.LiveRun, name)
            wrap(run_loop, "finish")
            finish = run_loop.finish

            def finish_noting_ends(tr: Any, *args: Any, **kwargs: Any) -> Any:
                TIMELINES.append(tr.timeline)  # its recorded ends are read at the report, not in the run
                return finish(tr, *args, **kwargs)

            run_loop.finish = finish_noting_ends
            on_batch = tracker.RunTracker.on_worker_batch

            def hello(tr: Any, batch: Any, now: int) -> Any:
                if batch.hello is not None:
                    mark(f"hello from worker {batch.pid}")
                return on_batch(tr, batch, now)

            tracker.RunTracker.on_worker_batch = hello  # type: ignore[method-assign]
        return describe(self, *args)

    runner._Run._describe = described  # type: ignore[method-assign]  # noqa: SLF001


def note_recorded_ends(tl: Any) -> None:
    """Add the run's recorded times to the log, at their own times (CPU unknown: -1): the last task
    start and end, each worker's ready time (its hello) and its exit as the engine saw it."""
    ended = tl.end_ns[tl.end_ns >= 0]
    if len(ended):
        started = tl.start_ns[tl.start_ns >= 0]
        LOG.append((int(started.min()), -1, -1, "(recorded)", "first task start"))
        for k, lane in enumerate(tl.lanes):  # each worker's first task: a worker waiting for the engine shows here
            mine = tl.start_ns[(tl.lane[:len(tl.start_ns)] == k) & (tl.start_ns >= 0)]
            if len(mine):
                LOG.append((int(mine.min()), -1, -1, "(recorded)", f"worker {lane.pid} first task start"))
        LOG.append((int(tl.start_ns.max()), -1, -1, "(recorded)", "last task start"))
        LOG.append((int(ended.max()), -1, -1, "(recorded)", "last task end"))
    for lane in tl.lanes:
        if lane.kind != "process":
            continue
        # ready: the worker's hello was made (its start-up done): before the loop began, it waited
        if lane.ready_ns >= 0:
            LOG.append((lane.ready_ns, -1, -1, "(recorded)", f"worker {lane.pid} ready"))
        if lane.exit_ns >= 0:
            LOG.append((lane.exit_ns, -1, -1, "(recorded)", f"worker {lane.pid} exit ({lane.exit_reason or 'exit'})"))


def report() -> None:
    """Print the timeline to stderr (at exit, after the command's own output)."""
    mark("exit (atexit handlers)")
    for tl in TIMELINES:
        note_recorded_ends(tl)
    t0 = process_created_ns()
    # CPU ms: the whole process's so far; thread ms: the marking thread's own so far (a step's
    # cost on its thread is the difference of two of its marks: numpy's import, the engine's loop).
    print("  wall ms   CPU ms thread ms  thread            step", file=sys.stderr)
    for wall, cpu, own, thread, what in sorted(LOG):
        cpu_ms = f"{cpu / 1e6:8.1f}" if cpu >= 0 else "       -"
        own_ms = f"{own / 1e6:9.1f}" if own >= 0 else "        -"
        print(f"{(wall - t0) / 1e6:9.1f} {cpu_ms} {own_ms}  {thread:17} {what}", file=sys.stderr)


def main(argv: list[str]) -> None:
    """Run ``procviz`` with ``argv`` (or the default run) under the probes; exits as procviz does."""
    import atexit

    mark("phases.py starts (interpreter and site done)")
    atexit.register(report)
    from procviz.engine import run_helpers

    args = argv or DEFAULT
    mark("helpers from the command line (guardian, resource tracker) >")
    run_helpers.start_for_command_line(args)  # first, as the procviz command does (gui.app.main)
    mark("helpers from the command line (guardian, resource tracker) <")
    import procviz.engine.cli as cli
    from procviz.engine.process_exit import exit_fast

    mark("CLI imported")
    for name in ("build_parser", "config_from_args", "out_problem", "setup_logging"):
        wrap(cli, name, f"cli.{name}")
    from procviz.engine.backends import pool_creation

    mark("pool_creation imported (the probe's own import; the run imports it later)")

    wrap(run_helpers, "start_helpers", "helpers started for the parsed config (a no-op if already running)")
    wrap(pool_creation.PoolCreation, "create", "Pool creation (head start: before numpy; function: after)")
    import_numpy = cli.import_numpy

    def numpy_then_probes(*args: Any) -> None:
        mark("numpy import >")
        import_numpy(*args)
        mark("numpy imported <")
        probe_engine()

    cli.import_numpy = numpy_then_probes  # type: ignore[assignment]
    exit_fast(cli.main(args))


if __name__ == "__main__":
    if not os.environ.get(COMPILED_ENV):  # byte-compile first, as installing a wheel does (PYTHONDONTWRITEBYTECODE
        import subprocess  # is set on this machine: see compare.py), then measure a process of its own (its start

        from compare import compile_procviz  # is read from the kernel: this one's imports are not its phases)

        compile_procviz()
        sys.exit(subprocess.run([sys.executable, *sys.argv], env={**os.environ, COMPILED_ENV: "1"}).returncode)
    from launcher_name import name_main_as_the_launcher

    name_main_as_the_launcher()  # its workers boot as the procviz command's do, not running this script
    main(sys.argv[1:])
