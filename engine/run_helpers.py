"""The helper processes of a run, started as early as the command line allows.

Every run needs procviz's guardian (:mod:`procviz.engine.guardian`), and a run whose workers share
multiprocessing's locks and queues (a Pool or a ProcessPoolExecutor, spawn or forkserver) needs
multiprocessing's resource tracker. Both are Python processes (~15 ms and ~30-60 ms of CPU to
boot) that would otherwise boot with the run's workers, when every core is taken. Started first,
they boot on the core that ``procviz run``'s parent leaves idle while it imports and parses.

:func:`start_for_command_line` starts them from the raw arguments of ``procviz run``, before the
CLI is imported and the config parsed (the ``procviz`` command calls it first thing): the guardian
always, the tracker when the flags alone say the run needs it. :func:`start_helpers` starts them
for a parsed config (a no-op for what already runs). Shared helpers, never a run's: the process
tree and the guardian leave them out. Standard library only, and light: it runs before anything
else of procviz is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

# Backends whose workers share multiprocessing's locks and queues (semaphores): with spawn or
# forkserver, the first one starts multiprocessing's resource tracker.
TRACKED_BACKENDS = ("pool", "process_pool_executor")
DEFAULT_BACKEND = "pool"  # procviz.engine.config's defaults (a test keeps them equal)
DEFAULT_START_METHOD = "spawn"
# Flags after which the flags alone do not tell the run's backend and start method (a file or a
# preset does): the tracker then waits for the parsed config.
CONFIG_FLAGS = ("--config", "--preset")
HELP_FLAGS = ("-h", "--help")


def start_helpers(start_method: str, backend: str) -> None:
    """Start the guardian and, if a run of ``backend`` with ``start_method`` needs it, the resource
    tracker, unless they run already."""
    from procviz.engine.guardian import guardian

    guardian.start()
    if start_method != "fork" and backend in TRACKED_BACKENDS:
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()


def start_for_command_line(argv: Sequence[str]) -> None:
    """For ``procviz run`` (``argv`` without the program name), start the run's helpers now.

    Nothing for another command, for ``--help``, or when arguments look unusual; never raises (the
    run starts what it needs itself, later, and says what fails). A flag that turns out invalid
    costs a helper that exits with procviz.
    """
    try:
        options = _run_options(argv)
        if options is None:
            return
        start_method, backend, from_file = options
        if from_file:  # the guardian only: the config's backend is not known yet
            start_helpers("fork", "")
        else:
            start_helpers(start_method, backend)
    except Exception:  # noqa: BLE001 - an optimisation only: the run starts them later if need be
        pass


def _run_options(argv: Sequence[str]) -> tuple[str, str, bool] | None:
    """(start method, backend, whether a config file or preset is given) of a ``run`` command line,
    or None when it is not one (another command, help). Long flags may be abbreviated, as argparse
    allows; ``--flag=value`` and ``--flag value`` both count."""
    args = list(argv)
    command = next((a for a in args if not a.startswith("-")), None)
    if command != "run" or any(a in HELP_FLAGS for a in args):
        return None
    values = {"--backend": DEFAULT_BACKEND, "--start-method": DEFAULT_START_METHOD}
    from_file = False
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if not name.startswith("--") or len(name) < 3:
            continue
        if any(flag.startswith(name) for flag in CONFIG_FLAGS):
            from_file = True
        for flag in values:
            if flag.startswith(name):
                values[flag] = value if eq else (args[i + 1] if i + 1 < len(args) else "")
    return values["--start-method"], values["--backend"], from_file
