"""The headless command line: ``procviz run``, ``procviz export``, ``procviz presets``. Imports no Qt.

PNG and SVG are drawn by the chart code in ``gui.render``; the engine must not import the GUI,
so the ``procviz`` entry point (``procviz.gui.app.main``) hands :func:`main` an ``image_writer`` that
imports ``gui.render`` only when an image is asked for. Without one, images are refused with a
message.

Exit codes (:data:`EXIT_CODES_HELP`, shown by ``procviz --help``): 0 every task done, 1 some task
failed or timed out (or the run failed), 2 invalid input (config, flags, files) or no usable
display, 3 stopped or interrupted (SIGINT/SIGTERM end the run cleanly: every unfinished task
cancelled, no worker left).
"""

from __future__ import annotations

if __name__ == "__main__":  # ``python -m procviz.engine.cli``: as for the ``procviz`` command, a Ctrl-C
    # during the imports below exits 3 with one line, not a KeyboardInterrupt traceback
    import sys

    from procviz.engine.interrupts import exit_quietly_on_interrupt
    from procviz.engine.run_helpers import start_for_command_line
    from procviz.engine.std_streams import hold_standard_streams

    hold_standard_streams()  # before any file or socket of the run is opened
    exit_quietly_on_interrupt()
    start_for_command_line(sys.argv[1:])  # the run's helpers boot during the imports below

import argparse
import gc
import json
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from procviz.engine.cli_config import config_from_args
from procviz.engine.config import (
    APIS,
    BACKENDS,
    DISTRIBUTIONS,
    KINDS,
    MAX_TASKS,
    MAX_WORKERS,
    ORDERS,
    START_METHODS,
    ConfigError,
    RunConfig,
)
from procviz.engine.file_names import FORMATS, IMAGE_FORMATS, IMAGE_SIZE, IMAGE_SIZES
from procviz.engine.numpy_import import import_numpy
from procviz.engine.os_errors import os_reason
from procviz.engine.out_place import image_format, out_problem, size_problem
from procviz.engine.pipe_reader import is_fifo_entry, reader_awaited

if TYPE_CHECKING:  # numpy and the engine are imported by cmd_run once the config is valid
    from procviz.engine.cli_progress import RunProgress
    from procviz.engine.head_start import HeadStart
    from procviz.engine.runner import Engine, RunResult
    from procviz.engine.timeline import Timeline

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_STOPPED = 0, 1, 2, 3
# By RunOutcome (a StrEnum: its members are these strings), without importing the engine to say so.
EXIT_CODES = {
    "completed": EXIT_OK,
    "failed": EXIT_FAILED,
    "error": EXIT_FAILED,
    "invalid": EXIT_INVALID,
    "stopped": EXIT_STOPPED,
}
# Subcommands, in the order ``procviz --help`` lists them (the window's help lists them too).
COMMANDS = {
    "run": "run a configuration headless and write its timeline",
    "export": "convert a timeline file to another format (json, csv, chrome, png, svg)",
    "presets": "list the shipped presets (for run --preset NAME)",
}
QUIET_POLL_S = 0.2  # how often ``procviz run`` looks for a signal while it waits for the run
EXIT_CODES_HELP = """\
exit codes:
  0  done: every task finished
  1  some task failed or timed out, or the run failed
  2  invalid input (config, flags, files), or no usable display for the window
  3  stopped: Ctrl-C or SIGTERM (the run ends cleanly, no worker left)
"""


def __getattr__(name: str) -> str:
    # VERSION is made on first use: the version lookup (importlib.metadata) costs ~15 ms that a
    # run never needs.
    if name == "VERSION":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> str:
    from procviz import __version__

    return f"procviz {__version__}"


class _VersionAction(argparse.Action):
    """``-V/--version``: prints the version, looked up only now."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: Any = None) -> None:
        print(_version())  # stdout, as argparse's own version action prints it
        parser.exit()

FIELD_HELP = f"""\
config fields (JSON file for --config; flags override them):
  backend          {' | '.join(BACKENDS)}
  workers          1..{MAX_WORKERS} worker processes (default: CPU count)
  start_method     spawn (default) | forkserver | fork (fork is unsafe: the parent has threads)
  api              {' | '.join(APIS)}
  chunksize        tasks per Pool chunk (default: the Pool's own default for the API)
  maxtasksperchild replace a worker after this many chunks (default: never)
  task_timeout_s   a task running longer is ended as timeout and its worker terminated
  order            fifo | sjf (shortest first) | ljf (longest first) | random
  scenario         a named cooperation scenario (Queue, Pipe, Lock, ...) instead of tasks
  workload.kind    cpu (busy loop) | sleep | io (file writes + fsync) | mixed | function
  workload.count   1..{MAX_TASKS} tasks
  workload.duration_ms, workload.distribution (fixed | uniform | normal | exponential),
  workload.spread_ms (uniform: half-width, normal: std dev), workload.seed
  workload.function "module:function"; workload.args: [[args of task 0], [args of task 1], ...]

example: {{"workers": 4, "api": "imap_unordered", "chunksize": 2,
           "workload": {{"kind": "sleep", "count": 20, "duration_ms": 200}}}}
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a refusal as one line (what and where to look), exit 2: the usage block it
    prints by default buries the one line that says what is wrong under a dozen lines of options."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes."""
    common = OneLineParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="log what procviz does to stderr (-vv: debug detail)")
    return common


def _run_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", help=COMMANDS["run"], parents=[common],
                       description="Run a pool workload, show progress, write the timeline, print a summary.",
                       epilog=FIELD_HELP + "\n" + EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="JSON file: a config (fields below), a preset file, "
                   "or a timeline written by procviz (runs its config again)")
    p.add_argument("--preset", metavar="NAME", help="a shipped preset ('procviz presets' lists them); "
                   "flags override its fields")
    p.add_argument("--out", type=Path, help="timeline file; format from the extension "
                   "(.json native, .csv, .trace.json/.json.gz Chrome trace, .png, .svg)")
    p.add_argument("--format", choices=(*FORMATS, *IMAGE_FORMATS), help="override the format of --out")
    p.add_argument("--backend", choices=BACKENDS,
                   help="thread_pool_executor runs the tasks in procviz's own process: a task that crashes it "
                        "(os._exit, a segfault) ends procviz, with no timeline (a segfault's traceback goes to stderr)")
    p.add_argument("--workers", type=_int_arg)
    p.add_argument("--start-method", choices=START_METHODS)
    p.add_argument("--api", choices=APIS)
    p.add_argument("--chunksize", type=_int_arg)
    p.add_argument("--maxtasksperchild", type=_int_arg)
    p.add_argument("--task-timeout", type=float, metavar="SECONDS")
    p.add_argument("--order", choices=ORDERS)
    p.add_argument("--scenario")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--count", type=_int_arg)
    p.add_argument("--duration-ms", type=float)
    p.add_argument("--distribution", choices=DISTRIBUTIONS)
    p.add_argument("--spread-ms", type=float)
    p.add_argument("--seed", type=_int_arg)
    p.add_argument("--function", help="module:function (with --kind function); the module is looked up in "
                   "the current folder first, then on sys.path")
    p.add_argument("--args", help='JSON list of argument lists, e.g. "[[1], [2]]"')
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (it is shown only when stdout and stderr are terminals)")


def _export_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", help=COMMANDS["export"], parents=[common],
                       description="Read a timeline (native JSON, procviz CSV or procviz Chrome trace) "
                       "and write it as csv, chrome, json, png or svg.",
                       epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("timeline", type=Path)
    p.add_argument("--format", choices=(*FORMATS, *IMAGE_FORMATS))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--width", type=_int_arg, help=f"image width in px (png/svg; {IMAGE_SIZES[0]}-{IMAGE_SIZES[1]}, "
                   f"default {IMAGE_SIZE[0]})")
    p.add_argument("--height", type=_int_arg, help=f"image height in px (png/svg; {IMAGE_SIZES[0]}-{IMAGE_SIZES[1]}, "
                   f"default {IMAGE_SIZE[1]})")


def _presets_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("presets", help=COMMANDS["presets"], parents=[common],
                       description="List the shipped presets: the name to give 'procviz run --preset', "
                       "and what each shows.")
    p.add_argument("--long", action="store_true", help="print each preset's full description too")


def _int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    """The headless ``procviz`` argument parser (subcommands run, export, presets)."""
    common = _common()
    parser = OneLineParser(prog="procviz", description="Process visualizer for Python multiprocessing. "
                                     "With no subcommand, opens the window (procviz --help).",
                                     epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action=_VersionAction)
    # -v before the command (procviz -v run ...); its own dest, as a subcommand's default would overwrite it
    parser.add_argument("-v", "--verbose", dest="verbose_before", action="count", default=0, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    _run_parser(sub, common)
    _export_parser(sub, common)
    _presets_parser(sub, common)
    return parser


def setup_logging(verbosity: int) -> None:
    """``logging`` to stderr: warnings only by default, INFO with -v, DEBUG with -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="procviz: %(levelname)s: %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("procviz").setLevel(level)


ImageWriter = Callable[["Timeline", Path, int, int, str], None]
_image_writer: ImageWriter | None = None


def write_any(timeline: Timeline, path: Path, fmt: str | None, width: int = IMAGE_SIZE[0],
              height: int = IMAGE_SIZE[1]) -> None:
    """Write a timeline in any format; images go through the injected image writer."""
    kind = fmt or image_format(path)
    if kind in IMAGE_FORMATS:
        if _image_writer is None:
            raise ValueError(f"{kind.upper()} export needs the GUI package: use the procviz command")
        _image_writer(timeline, path, width, height, kind)
        return
    from procviz.engine.formats import write_timeline

    write_timeline(timeline, path, fmt=fmt)


def cmd_run(args: argparse.Namespace) -> int:
    """``procviz run``: run, show progress, write the timeline, print the summary."""
    if args.config is not None and is_fifo_entry(args.config):  # (reading one waits for its writer)
        _tell(f"procviz run: waiting for a program to write {args.config} (Ctrl-C gives up)")
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        for p in exc.problems:
            _tell(f"procviz run: invalid {p}")
        return EXIT_INVALID
    if args.out is not None:  # said before the run, not after it
        problem = out_problem(args.out, args.format, images=_image_writer is not None)
        if problem:
            _tell(f"procviz run: cannot write {args.out}: {problem}")
            return EXIT_INVALID
    # Where the file goes is decided now: a thread task's os.chdir() (the thread backend runs the
    # user's function in this process) moved a relative --out under another folder, or lost it.
    args.write_to = Path(os.path.abspath(args.out)) if args.out is not None else None
    interrupted = threading.Event()
    restore = _catch_signals(interrupted)  # before any worker exists: a signal from now on ends the run cleanly
    head = None
    # No cyclic garbage collection while the modules are imported: they make ~10^5 objects that all
    # live on, and the collector ran ~45 times over them (~30 ms of CPU here, while the workers
    # boot). Frozen afterwards, so the collections during the run do not scan them either.
    _pause_gc()
    try:
        _start_helpers(config)
        head = _head_start(config)
        import_numpy(config.start_method)  # without OpenBLAS's spinning threads
        from procviz.engine.runner import Engine

        if head is not None:
            head.after_imports(interrupted)  # a function workload's Pool, once its module imports in a child

        gc.freeze()
        _resume_gc()
        engine = Engine(collect_after_run=False)  # the process ends after this one run
        return _run(engine, config, head, args, interrupted, restore)
    finally:
        if head is not None:
            head.abandon()  # nothing, once the engine took it
        restore()
        _resume_gc()  # if an import failed


_gc_paused = False  # procviz run's imports, with the cyclic collector off (see cmd_run)


def _gc_on_in_child() -> None:
    # A fork worker begun meanwhile (its Pool is made on a thread of its own) would run the
    # user's tasks with the collector off for good.
    if _gc_paused:
        gc.enable()


os.register_at_fork(after_in_child=_gc_on_in_child)


def _pause_gc() -> None:
    global _gc_paused
    _gc_paused = True
    gc.disable()


def _resume_gc() -> None:
    global _gc_paused
    gc.enable()
    _gc_paused = False


def _catch_signals(interrupted: threading.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set ``interrupted`` from now on; returns what puts the previous handlers
    back (once; not after a signal came: a second Ctrl-C must not raise mid-write)."""
    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()

    # A signal this process was started with ignored (a shell's background job: SIGINT) stays
    # ignored, as before the run (interrupts.exit_quietly_on_interrupt): a Ctrl-C meant for the
    # script that started it stopped the run or not, by when it came.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)
           if signal.getsignal(s) is not signal.SIG_IGN}

    def restore() -> None:
        while old and not interrupted.is_set():
            s, handler = old.popitem()
            signal.signal(s, handler)

    return restore


def _start_helpers(config: RunConfig) -> None:
    """The helper processes of a run, started now unless they run already: they boot on the core
    this process leaves idle while it imports (see procviz.engine.run_helpers)."""
    from procviz.engine.run_helpers import start_helpers

    try:
        start_helpers(config.start_method, config.backend)
    except Exception:  # noqa: BLE001 - not fatal: the run starts them itself and says what fails
        log.debug("no early helpers", exc_info=True)


def _head_start(config: RunConfig) -> HeadStart | None:
    """A Pool run's workers, asked for now: they boot while this process imports numpy and the
    engine (see procviz.engine.head_start). Returns once they are created."""
    from procviz.engine.head_start import HeadStart, wants_head_start

    if not wants_head_start(config):
        return None
    try:
        head = HeadStart(config)
    except Exception:  # noqa: BLE001 - no head start: the engine makes the run's places and says what fails
        log.debug("no head start", exc_info=True)
        return None
    head.wait_started()  # numpy's import sets an OpenBLAS variable for a moment: not for them
    return head


def _run(engine: Engine, config: RunConfig, head: HeadStart | None, args: argparse.Namespace,
         interrupted: threading.Event, restore_signals: Callable[[], None]) -> int:
    """Run ``config`` on ``engine`` to its end (a signal, even one that came before, stops it):
    progress, summary, timeline file; the exit code."""
    from procviz.engine.cli_progress import RunProgress, wanted  # after the head start: not on its path
    from procviz.engine.events import RunOutcome

    progress = RunProgress(wanted(args.quiet))
    engine.task_rows = progress.enabled  # a bar counts task rows; without one nothing reads them
    if log.isEnabledFor(logging.INFO):
        log.info("config: %s", json.dumps(config.to_json(), separators=(",", ":")))
    try:
        engine.start(config, head)
        result = _follow(engine, interrupted, progress)
    finally:
        restore_signals()
    if result is None:
        _tell("procviz run: the engine did not stop in time")
        return EXIT_FAILED
    code = EXIT_STOPPED if interrupted.is_set() else EXIT_CODES[result.outcome]
    if result.outcome is RunOutcome.INVALID:
        # Nothing ran: no figures, and no file (one that exists is not replaced by an empty run).
        _tell(f"procviz run: invalid: {result.message}")
        return _leave(result.hung_threads, code)
    # The file first: what is printed after it may meet a closed pipe (procviz run ... | head).
    written = unwritten = None
    if args.write_to is not None and result.timeline.run is not None:
        try:
            with reader_awaited(args.write_to, lambda text: _tell(f"procviz run: {text}")):
                write_any(result.timeline, args.write_to, args.format)
            written = args.out
        except (OSError, ValueError) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
            unwritten = f"procviz run: cannot write {args.out}: {reason}; " + _kept_elsewhere(result.timeline)
            code = EXIT_INVALID
    from procviz.engine.error_summary import error_lines  # (numpy: imported once the run began)

    lines = [*result.metrics.summary_lines(), f"outcome: {result.outcome}: {result.message}",
             *error_lines(result.timeline)]
    if written is not None:
        lines.append(f"timeline: {written}")
    _say(lines)
    if unwritten is not None:
        _tell(unwritten)
    return _leave(result.hung_threads, code)


def _kept_elsewhere(timeline: Timeline) -> str:
    """The run's timeline, its file unwritable (the folder removed during the run, a full disk),
    kept in the temporary files' folder instead: what became of it, to follow "cannot write"."""
    from procviz.engine.kept_run import keep_elsewhere

    kept, reason = keep_elsewhere(timeline)
    if kept is None:
        return f"{reason}; the timeline is lost"
    return f"the timeline is kept in {kept} (procviz export {kept} --out FILE writes it elsewhere)"


def _tell(line: str) -> None:
    """A line on stderr; one that cannot be written (``2>&1 | true``: the reader left) changes
    nothing of the exit code the command decided."""
    try:
        print(line, file=sys.stderr)
    except OSError:
        pass


def _say(lines: list[str]) -> None:
    """Print the summary; a reader that left (``| head``, ``| true``) or a full disk ends it quietly:
    the run's result is its exit code and its file, not this text."""
    if sys.stdout is None:  # started with stdout closed (`>&-`): nobody to tell
        return
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except OSError:  # BrokenPipeError, ENOSPC (>/dev/full)
        try:  # no second error when the interpreter flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass


def _leave(hung_threads: Sequence[str], code: int) -> int:
    """``code``, or the process's exit with it at once when threads that never return are left
    (they would block the interpreter's exit forever)."""
    if hung_threads:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, AttributeError):  # (AttributeError: a stream that was closed at start, None)
                pass
        os._exit(code)
    return code


def _follow(engine: Engine, interrupted: threading.Event, progress: RunProgress) -> RunResult | None:
    """Wait for the run to end (a Ctrl-C or SIGTERM stops it); its result, or None if it did not end.

    With a progress bar, the engine's batches are counted as they come (the bar's figures).
    Without one, nothing reads them: this thread wakes a few times a second only, to notice a
    signal and drop what the engine queued, instead of taking the GIL for every batch.
    """
    from procviz.engine.tally import RunTally, drain_until

    live = RunTally() if progress.enabled else None  # counts only: the run's Timeline is the engine's
    try:
        while engine.running and not (live is not None and live.finished):
            if interrupted.is_set():
                engine.stop(10.0)
                break
            if live is None:
                engine.join(QUIET_POLL_S)
                _discard(engine.events)
            else:
                drain_until(engine.events, live, QUIET_POLL_S)
                progress.show(live)  # type: ignore[arg-type]
        return engine.join(30.0)
    finally:
        if live is not None:
            drain_until(engine.events, live, 0.0)
            progress.close(live)  # type: ignore[arg-type]  # leave the terminal with its cursor and a final line
        _discard(engine.events)


def _discard(events: queue.SimpleQueue[Any]) -> None:
    """Drop every batch waiting in ``events``."""
    try:
        while True:
            events.get_nowait()
    except queue.Empty:
        pass


def cmd_export(args: argparse.Namespace) -> int:
    """``procviz export``: read a timeline file and write it in another format."""
    from procviz.engine.formats import TimelineFileError, read_timeline

    problem = (out_problem(args.out, args.format, images=_image_writer is not None)
               or size_problem(args.out, args.format, args.width, args.height))  # (before the file is read)
    if problem:
        _tell(f"procviz export: cannot write {args.out}: {problem}")
        return EXIT_INVALID
    if is_fifo_entry(args.timeline):  # (reading one waits for its writer: said, not a silent hang)
        _tell(f"procviz export: waiting for a program to write {args.timeline} (Ctrl-C gives up)")
    try:
        timeline = read_timeline(args.timeline)
    except TimelineFileError as exc:
        _tell(f"procviz export: {exc}")
        return EXIT_INVALID
    except OSError as exc:
        _tell(f"procviz export: cannot read {args.timeline}: {os_reason(exc)}")
        return EXIT_INVALID
    try:
        with reader_awaited(args.out, lambda text: _tell(f"procviz export: {text}")):
            write_any(timeline, args.out, args.format, args.width or IMAGE_SIZE[0], args.height or IMAGE_SIZE[1])
    except OSError as exc:
        _tell(f"procviz export: cannot write {args.out}: {os_reason(exc)}")
        return EXIT_INVALID
    except ValueError as exc:
        _tell(f"procviz export: cannot write {args.out}: {exc}")
        return EXIT_INVALID
    print(f"{args.timeline} -> {args.out}")
    return EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    """``procviz presets``: each shipped preset's name (for ``run --preset``) and what it shows."""
    from procviz.engine.presets import load_presets

    presets, problems = load_presets()
    width = max((len(p.key) for p in presets), default=0)
    group = None
    for preset in presets:
        if preset.group != group:
            group = preset.group
            print(f"{'' if group == presets[0].group else chr(10)}{group}:")
        print(f"  {preset.key:<{width}}  {preset.name}")
        if args.long and preset.description:
            print(f"  {'':<{width}}  {preset.description}")
    for problem in problems:
        _tell(f"procviz presets: skipped {problem}")
    return EXIT_OK


def main(argv: list[str] | None = None, image_writer: ImageWriter | None = None) -> int:
    """Entry point of the headless subcommands; returns the exit code.

    ``image_writer(timeline, path, width, height, fmt)`` renders PNG/SVG (see the module doc).
    """
    global _image_writer
    _image_writer = image_writer
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, bad flags exit 2
        return int(exc.code or 0)
    setup_logging(args.verbose + args.verbose_before)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": cmd_run, "export": cmd_export, "presets": cmd_presets}
    try:
        return commands[args.command](args)
    except BrokenPipeError:  # e.g. procviz presets | head: the reader left, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_OK


if __name__ == "__main__":
    from procviz.engine.process_exit import exit_fast

    exit_fast(main())
