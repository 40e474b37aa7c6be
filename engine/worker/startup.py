"""A worker's start-up, watched: what it is doing is told to the engine before it does it.

Start-up is everything before a worker's hello: arming the lifeline, importing the workload's
module (here, not in the first task, so a module that fails in workers fails the *start-up*),
connecting the recorder. Before each step the worker sends a small JSON datagram to the engine's
start-up socket (next to the event socket); a step that raises or calls ``sys.exit`` is reported
with its exception or exit code, and the worker leaves with ``os._exit`` (exit code 1, or the
``sys.exit`` code): a Pool or an executor would otherwise retry the failing start-up forever or
log it where nobody looks. A step that hangs or calls ``os._exit`` sends nothing more: the engine
knows the step from the last datagram and names it with the PID and the exit code it observes.

Standard library only; importing the workload is the one place user code runs during start-up.
"""

from __future__ import annotations

import os
import socket
import traceback

from procviz.engine.worker import lifeline
from procviz.engine.worker.workloads import import_user_module, legacy_module

STARTUP_SOCKET = "startup.sock"
MAX_REPORT = 16 * 1024


def startup_address(events_address: str) -> str:
    """The start-up socket's path, beside the event socket of the same run."""
    return os.path.join(os.path.dirname(events_address), STARTUP_SOCKET)


def json_object(fields: dict[str, object]) -> str:
    """``fields`` as a JSON object. Whole numbers and plain printable ASCII strings (the reports of a
    start-up that goes well: a stage, a module name, a PID) are written here: importing json costs
    each worker ~1.5 ms of its start-up; anything else goes through json."""
    parts = []
    for key, value in fields.items():
        if type(value) is int:  # not bool: JSON spells it true
            parts.append(f'"{key}": {value}')
        elif isinstance(value, str) and value.isascii() and value.isprintable() and '"' not in value \
                and "\\" not in value:
            parts.append(f'"{key}": "{value}"')
        else:
            import json  # a failure's message and traceback

            return json.dumps(fields, default=str)
    return "{" + ", ".join(parts) + "}"


def report(events_address: str, **fields: object) -> None:
    """Send one start-up datagram (best effort: a worker never dies because nobody listens)."""
    fields["pid"] = os.getpid()
    data = json_object(fields).encode("utf-8", "backslashreplace")[:MAX_REPORT]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(data, startup_address(events_address))
    except OSError:
        pass


def _module_of(function: str) -> str:
    return legacy_module(function.partition(":")[0])  # engine.x (before procviz was one package) too


# Set, naming a variable, while procviz's parent imports numpy (procviz.engine.numpy_import; the
# name is repeated here: a worker imports nothing of the engine's).
SET_BY_PROCVIZ = "PROCVIZ_SET_FOR_IMPORT"


def drop_parent_import_variable() -> None:
    """Drop the variable procviz's parent set for its own numpy import, if this worker was started
    during that import: the workload sees the user's environment."""
    name = os.environ.pop(SET_BY_PROCVIZ, None)
    if name:
        os.environ.pop(name, None)


def preload(address: str, function: str) -> None:
    """Arm the lifeline, then import ``function``'s module, reporting the step and its failure."""
    drop_parent_import_variable()
    lifeline.arm(address)
    if not function:
        return
    module = _module_of(function)
    report(address, stage="import", module=module)
    try:
        fn = getattr(import_user_module(module), function.partition(":")[2])  # the current folder first
        if not callable(fn):
            raise TypeError(f"{function} is not callable")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        report(address, stage="import", module=module, failed="SystemExit", exit_code=code,
               message=f"sys.exit({exc.code!r})")
        os._exit(code or 1)  # a start-up that "succeeds" by exiting is still a failed start-up
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, then the worker leaves
        report(address, stage="import", module=module, failed=type(exc).__qualname__, exit_code=1,
               message=f"{type(exc).__qualname__}: {exc}", traceback="".join(traceback.format_exception(exc))[-4000:])
        os._exit(1)
    report(address, stage="ready-to-connect", module=module)


def bootstrap(address: str, function: str = "") -> None:
    """Pool and executor initializer: lifeline, watched import of the workload, then the recorder."""
    preload(address, function)
    from procviz.engine.worker.instrument import worker_init  # after the lifeline: it may take a while

    worker_init(address)
