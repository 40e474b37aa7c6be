"""The headless command line: ``procviz run`` and ``procviz export``. Imports no Qt.

PNG and SVG are drawn by the chart code in ``gui.render``; the engine must not import the GUI,
so the ``procviz`` entry point (``procviz.gui.app.main``) hands :func:`main` an ``image_writer`` that
imports ``gui.render`` only when an image is asked for. Without one, images are refused with a
message.

Exit codes of ``procviz run``: 0 every task done, 1 some task failed or timed out (or the run
failed), 2 invalid input (config, flags, files), 3 stopped or interrupted (SIGINT/SIGTERM end the
run cleanly: every unfinished task cancelled, no worker left).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

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
    load_config,
    parse_config,
)
from procviz.engine.events import RunOutcome, TaskState
from procviz.engine.timeline import Timeline

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_STOPPED = 0, 1, 2, 3
EXIT_CODES = {
    RunOutcome.COMPLETED: EXIT_OK,
    RunOutcome.FAILED: EXIT_FAILED,
    RunOutcome.ERROR: EXIT_FAILED,
    RunOutcome.INVALID: EXIT_INVALID,
    RunOutcome.STOPPED: EXIT_STOPPED,
}
IMAGE_FORMATS = ("png", "svg")

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


def _run_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a configuration headless and write its timeline",
                       description="Run a pool workload, show progress, write the timeline, print a summary.",
                       epilog=FIELD_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, help="JSON config file (fields below)")
    p.add_argument("--out", type=Path, help="timeline file; format from the extension "
                   "(.json native, .csv, .trace.json/.json.gz Chrome trace, .png, .svg)")
    p.add_argument("--format", choices=("json", "csv", "chrome", *IMAGE_FORMATS), help="override the format of --out")
    p.add_argument("--backend", choices=BACKENDS)
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
    p.add_argument("--function", help="module:function (with --kind function)")
    p.add_argument("--args", help='JSON list of argument lists, e.g. "[[1], [2]]"')
    p.add_argument("--quiet", action="store_true", help="no progress output")


def _export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="convert a timeline file to another format",
                       description="Read a timeline (native JSON, procviz CSV or procviz Chrome trace) "
                       "and write it as csv, chrome, json, png or svg.")
    p.add_argument("timeline", type=Path)
    p.add_argument("--format", choices=("json", "csv", "chrome", *IMAGE_FORMATS))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--width", type=_int_arg, default=1600, help="image width in px (png/svg)")
    p.add_argument("--height", type=_int_arg, default=900, help="image height in px (png/svg)")


def _int_arg(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def build_parser() -> argparse.ArgumentParser:
    """The ``procviz`` argument parser (subcommands run and export)."""
    parser = argparse.ArgumentParser(prog="procviz", description="Process visualizer for Python multiprocessing. "
                                     "With no subcommand, opens the window.")
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _export_parser(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file (if any) with flags laid over it, validated."""
    data: dict[str, Any] = load_config(args.config).to_json() if args.config else {}
    flat = {"backend": args.backend, "workers": args.workers, "start_method": args.start_method, "api": args.api,
            "chunksize": args.chunksize, "maxtasksperchild": args.maxtasksperchild,
            "task_timeout_s": args.task_timeout, "order": args.order, "scenario": args.scenario}
    data.update({k: v for k, v in flat.items() if v is not None})
    workload = dict(data.get("workload", {}))
    wflat = {"kind": args.kind, "count": args.count, "duration_ms": args.duration_ms,
             "distribution": args.distribution, "spread_ms": args.spread_ms, "seed": args.seed,
             "function": args.function}
    workload.update({k: v for k, v in wflat.items() if v is not None})
    if args.args is not None:
        try:
            workload["args"] = json.loads(args.args)
        except ValueError as exc:
            raise ConfigError([_problem("workload.args", f"is not valid JSON: {exc}")]) from None
        workload.pop("count", None)
    if workload:
        data["workload"] = workload
    return parse_config(data)


def _problem(field: str, message: str) -> Any:
    from procviz.engine.config import Problem

    return Problem(field, message)


ImageWriter = Callable[[Timeline, Path, int, int, str], None]
_image_writer: ImageWriter | None = None


def write_any(timeline: Timeline, path: Path, fmt: str | None, width: int = 1600, height: int = 900) -> None:
    """Write a timeline in any format; images go through the injected image writer."""
    kind = fmt or _format_from_suffix(path)
    if kind in IMAGE_FORMATS:
        if _image_writer is None:
            raise ValueError(f"{kind.upper()} export needs the GUI package: use the procviz command")
        _image_writer(timeline, path, width, height, kind)
        return
    from procviz.engine.formats import write_timeline

    write_timeline(timeline, path, fmt=fmt)


def _format_from_suffix(path: Path) -> str | None:
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in IMAGE_FORMATS else None


class _Progress:
    """Progress on a terminal: one rewritten line on a TTY, a line per second otherwise."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = stream.isatty()
        self.last = 0.0
        self.t0 = time.monotonic()

    def show(self, timeline: Timeline, final: bool = False) -> None:
        if self.quiet or timeline.run is None:
            return
        now = time.monotonic()
        if not final and now - self.last < (0.1 if self.tty else 1.0):
            return
        self.last = now
        counts = timeline.state_counts()
        done = timeline.finished_count()
        n = timeline.n_tasks
        rate = done / max(now - self.t0, 1e-9)
        width = 30
        filled = int(width * done / n) if n else width
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{n} finished · "
                f"{counts[TaskState.RUNNING]} running · "
                f"{counts[TaskState.FAILED] + counts[TaskState.TIMEOUT]} failed · "
                f"{rate:.1f} tasks/s")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def cmd_run(args: argparse.Namespace) -> int:
    """``procviz run``: run, show progress, write the timeline, print the summary."""
    from procviz.engine.runner import Engine

    try:
        config = config_from_args(args)
    except ConfigError as exc:
        for p in exc.problems:
            print(f"procviz run: invalid {p}", file=sys.stderr)
        return EXIT_INVALID
    if args.out is not None and not args.out.parent.exists():
        print(f"procviz run: cannot write {args.out}: folder {args.out.parent} does not exist", file=sys.stderr)
        return EXIT_INVALID
    if args.out is not None and (args.format or _format_from_suffix(args.out)) in IMAGE_FORMATS \
            and _image_writer is None:
        print("procviz run: PNG/SVG need the GUI package: use the procviz command", file=sys.stderr)
        return EXIT_INVALID  # said before the run, not after it
    engine = Engine()
    interrupted = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    live = Timeline()
    progress = _Progress(sys.stderr, args.quiet)
    try:
        engine.start(config)
        while engine.running:
            if interrupted.is_set():
                engine.stop(10.0)
                break
            _drain(engine, live)
            progress.show(live)
            time.sleep(0.05)
        result = engine.join(30.0)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    _drain(engine, live)
    progress.show(live, final=True)
    if result is None:
        print("procviz run: the engine did not stop in time", file=sys.stderr)
        return EXIT_FAILED
    for line in result.metrics.summary_lines():
        print(line)
    print(f"outcome: {result.outcome}: {result.message}")
    if args.out is not None and result.timeline.run is not None:
        try:
            write_any(result.timeline, args.out, args.format)
            print(f"timeline written to {args.out}")
        except (OSError, ValueError) as exc:
            print(f"procviz run: cannot write {args.out}: {exc}", file=sys.stderr)
            return EXIT_INVALID
    return EXIT_STOPPED if interrupted.is_set() else EXIT_CODES[result.outcome]


def _drain(engine: Any, timeline: Timeline) -> None:
    while True:
        try:
            timeline.apply(engine.events.get_nowait(), notify=False)
        except Exception:  # queue.Empty
            return


def cmd_export(args: argparse.Namespace) -> int:
    """``procviz export``: read a timeline file and write it in another format."""
    from procviz.engine.formats import TimelineFileError, read_timeline

    try:
        timeline = read_timeline(args.timeline)
    except (TimelineFileError, OSError) as exc:
        print(f"procviz export: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if not args.out.parent.exists():
        print(f"procviz export: cannot write {args.out}: folder {args.out.parent} does not exist", file=sys.stderr)
        return EXIT_INVALID
    try:
        write_any(timeline, args.out, args.format, args.width, args.height)
    except (OSError, ValueError) as exc:
        print(f"procviz export: cannot write {args.out}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.timeline} -> {args.out}")
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
    if args.command == "run":
        return cmd_run(args)
    return cmd_export(args)


if __name__ == "__main__":
    sys.exit(main())
