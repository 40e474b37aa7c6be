"""procviz against a bare ``multiprocessing.Pool`` script, whole processes side by side.

One command, ``python benchmarks/compare.py``, runs each workload as a bare script (same task
function, start method, workers and chunksize) and as ``procviz run``, alternating A B A B
(and B A on every other round, so neither always runs first), repeats the pairs, and prints a
markdown table of medians of per-pair ratios with their spread (min-max), wall and CPU time
(parent + workers, from ``os.wait4``) and the parent's own peak RSS. Peers (MPIRE with insights,
VizTracer ``--ignore_c_function``) run in the same rounds when installed, and are skipped with a
note when not. Everything measured, raw samples included, goes to a JSON file.

``--quick`` runs tiny sizes once: it checks that the harness works (the test suite runs it) and
says nothing about speed.

``--baseline REV`` also runs procviz as it was at git revision ``REV`` of this repository (its tree
unpacked to a temporary folder, byte-compiled, and put first on ``PYTHONPATH``) in the same
rounds, as the contender ``procviz@REV``, and prints the medians of the per-pair ratios of this
procviz to it: an A/B of a change that the load of a shared machine does not swamp as easily as
two separate tables would.

Derived per-task figures come from the large no-op workload (1,000,000 tasks, chunksize 1000):
worker CPU added per task = (procviz workers' CPU - bare workers' CPU) / tasks, workers' CPU being
the whole process tree's minus the parent's own; parent CPU per event = (procviz parent CPU -
bare parent CPU) / (2 x tasks): every task is two events, a start and an end.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROC = HERE / "_proc.py"
CPU_FN = "procviz.engine.worker.workloads:cpu"
SLEEP_FN = "procviz.engine.worker.workloads:sleep"
NOOP_FN = "procviz.engine.worker.demo_tasks:noop"
TIMEOUT_S = 600


@dataclass(frozen=True)
class Workload:
    """One row of the table: the same tasks for every contender."""

    key: str
    label: str
    kind: str  # procviz --kind: cpu, sleep or function
    count: int
    ms: float = 0.0
    chunksize: int | None = None  # None: the Pool's default
    function: str = ""  # kind function: module:function (called with no argument by procviz)
    workers: int = 2
    start_method: str = "spawn"
    target: float | None = 1.05  # ratio to bare, wall (None: a row the issue sets no target for)
    rounds: int = 5
    peers: bool = False  # also run the peers on this one
    api: str = "map"  # map, or apply_async (a task each, with a callback and an error callback)

    def bare_args(self) -> list[str]:
        """Arguments of ``_proc.py bare`` (and peers) for this workload."""
        if self.kind == "function":
            ref, spec = self.function, "range"
        else:
            ref, spec = (CPU_FN if self.kind == "cpu" else SLEEP_FN), f"ms:{self.ms}"
        cs = "-" if self.chunksize is None else str(self.chunksize)
        return [ref, spec, str(self.count), str(self.workers), self.start_method, cs, self.api]

    def procviz_args(self) -> list[str]:
        """Arguments of ``procviz run`` for this workload."""
        out = ["run", "--backend", "pool", "--workers", str(self.workers), "--start-method", self.start_method,
               "--kind", self.kind, "--count", str(self.count), "--api", self.api, "--quiet"]
        if self.kind == "function":
            out += ["--function", self.function]
        else:
            out += ["--duration-ms", str(self.ms)]
        if self.chunksize is not None:
            out += ["--chunksize", str(self.chunksize)]
        return out


def workloads(quick: bool) -> list[Workload]:
    """The table of issue 10 (``quick``: the same rows at tiny sizes, one round)."""
    rows = [
        Workload("cpu3000", "3000 x 1 ms CPU, 2 spawn workers, default chunksize", "cpu", 3000, 1.0, peers=True),
        Workload("cpu3000_cs1", "same, chunksize 1", "cpu", 3000, 1.0, chunksize=1),
        Workload("sleep300", "300 x 10 ms sleep", "sleep", 300, 10.0),
        Workload("noop20k", "20 000 no-op tasks", "cpu", 20_000, 0.0, target=2.0),
        Workload("noop1m", "1 000 000 no-op tasks, chunksize 1000", "cpu", 1_000_000, 0.0, chunksize=1000,
                 target=2.0, rounds=3),
        Workload("trivial2", "2 trivial tasks (fixed cost)", "cpu", 2, 0.0, target=1.5, rounds=7),
        Workload("fn1m", "1 000 000 no-op tasks of a module:function workload, chunksize 1000", "function",
                 1_000_000, chunksize=1000, function=NOOP_FN, target=2.0, rounds=3),
        # No target in the issue: the API whose parent-side work is per task (a submission and a
        # completion callback each), shown beside the rows that have one.
        Workload("async100k", "100 000 no-op tasks by apply_async with callbacks", "cpu", 100_000, 0.0,
                 target=None, rounds=3, api="apply_async"),
    ]
    if not quick:
        return rows
    small = {"cpu3000": 40, "cpu3000_cs1": 40, "sleep300": 10, "noop20k": 200, "noop1m": 2000, "trivial2": 2,
             "fn1m": 2000, "async100k": 200}
    return [Workload(**{**asdict(w), "count": small[w.key], "rounds": 1, "label": f"[quick: {small[w.key]} tasks] "
                        + w.label, "chunksize": 100 if w.chunksize == 1000 else w.chunksize}) for w in rows]


@dataclass
class Sample:
    """One process run: wall seconds, CPU seconds of the whole tree, the parent's own CPU and peak."""

    wall_s: float
    cpu_s: float
    self_cpu_s: float
    peak_kib: int
    code: int


def measure(cmd: list[str], env: dict[str, str]) -> Sample:
    """Run ``cmd`` to its end; wall from fork to reaping, CPU of the tree from ``os.wait4``."""
    with tempfile.TemporaryDirectory(prefix="procviz-bench-") as tmp:
        report = os.path.join(tmp, "self.json")
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**env, "BENCH_SELF_OUT": report}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)  # the benchmark's own poll: 2 ms of wall resolution, ~no CPU
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-2000:]}")
        own = json.loads(Path(report).read_text()) if os.path.exists(report) else {"maxrss_kib": 0, "cpu_s": 0.0}
    return Sample(wall, ru.ru_utime + ru.ru_stime, own["cpu_s"], own["maxrss_kib"], proc.returncode)


def contenders(w: Workload) -> dict[str, list[str]]:
    """name -> command, for every contender available here (bare and procviz always)."""
    py = sys.executable
    out = {"bare": [py, str(PROC), "bare", *w.bare_args()], "procviz": [py, str(PROC), "procviz", *w.procviz_args()]}
    if w.peers:
        if _has("mpire"):
            out["mpire insights"] = [py, str(PROC), "mpire", *w.bare_args()]
        if _has("viztracer"):
            out["viztracer --ignore_c_function"] = [
                py, "-m", "viztracer", "--quiet", "--ignore_c_function", "-o", os.devnull + ".json",
                str(PROC), "bare", *w.bare_args()]
    return out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run_workload(w: Workload, env: dict[str, str], baseline: tuple[str, dict[str, str]] | None = None
                 ) -> dict[str, list[Sample]]:
    """Every contender ``w.rounds`` times, in alternating order, bare in every round. ``baseline``:
    (name, environment) of procviz at an older revision, run as one more contender."""
    cmds = contenders(w)
    envs = dict.fromkeys(cmds, env)
    if baseline is not None:
        cmds[baseline[0]], envs[baseline[0]] = cmds["procviz"], baseline[1]
    names = list(cmds)
    samples: dict[str, list[Sample]] = {n: [] for n in names}
    for r in range(w.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(measure(cmds[name], envs[name]))
    return samples


def unpack_baseline(rev: str, folder: str) -> str:
    """Unpack revision ``rev`` of this repository as the package ``procviz`` in ``folder`` and
    byte-compile it (as compile_procviz does for this one); returns the commit it named."""
    root = HERE.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    tar = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", "--prefix=procviz/", commit],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as f:
        f.extractall(folder, filter="data")
    package = Path(folder) / "procviz"
    for sub, depth in ((package, 0), (package / "engine", 10), (package / "gui", 10)):
        compileall.compile_dir(str(sub), maxlevels=depth, quiet=1)
    return commit


def _ratio_stats(num: list[float], den: list[float]) -> dict[str, float]:
    ratios = [a / b for a, b in zip(num, den, strict=True) if b > 0]
    if not ratios:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def summarize(w: Workload, samples: dict[str, list[Sample]]) -> dict:
    """Per contender: median wall/CPU/peak, and per-pair ratios to the bare run of the same round."""
    bare = samples["bare"]
    out: dict = {"workload": asdict(w), "contenders": {}}
    base = next((name for name in samples if name.startswith("procviz@")), None)
    if base is not None:  # this procviz against the baseline's, pair by pair
        pv, old = samples["procviz"], samples[base]
        out["vs_baseline"] = {
            "baseline": base,
            "wall_ratio": _ratio_stats([s.wall_s for s in pv], [s.wall_s for s in old]),
            "cpu_ratio": _ratio_stats([s.cpu_s for s in pv], [s.cpu_s for s in old]),
            "parent_cpu_ratio": _ratio_stats([s.self_cpu_s for s in pv], [s.self_cpu_s for s in old]),
        }
    for name, runs in samples.items():
        peak = statistics.median(s.peak_kib for s in runs)
        out["contenders"][name] = {
            "wall_s": statistics.median(s.wall_s for s in runs),
            "cpu_s": statistics.median(s.cpu_s for s in runs),
            "self_cpu_s": statistics.median(s.self_cpu_s for s in runs),
            "peak_mib": peak / 1024,
            "wall_ratio": _ratio_stats([s.wall_s for s in runs], [s.wall_s for s in bare]),
            "cpu_ratio": _ratio_stats([s.cpu_s for s in runs], [s.cpu_s for s in bare]),
            "peak_bytes_per_task_above_bare": (peak - statistics.median(s.peak_kib for s in bare)) * 1024 / w.count,
            "samples": [asdict(s) for s in runs],
        }
    return out


def derived(results: list[dict]) -> dict[str, dict]:
    """Worker CPU per task and parent CPU per event, from the large no-op workload's samples."""
    row = next((r for r in results if r["workload"]["key"] == "noop1m"), None)
    if row is None:
        return {}
    n = row["workload"]["count"]
    pv, bare = row["contenders"]["procviz"]["samples"], row["contenders"]["bare"]["samples"]
    pairs = list(zip(pv, bare, strict=True))
    worker = [((p["cpu_s"] - p["self_cpu_s"]) - (b["cpu_s"] - b["self_cpu_s"])) / n * 1e6 for p, b in pairs]
    parent = [(p["self_cpu_s"] - b["self_cpu_s"]) / (2 * n) * 1e6 for p, b in pairs]
    return {
        "worker_cpu_us_per_task": {"median": statistics.median(worker), "min": min(worker), "max": max(worker),
                                   "target": 2.0},
        "parent_cpu_us_per_event": {"median": statistics.median(parent), "min": min(parent), "max": max(parent),
                                    "target": 0.5},
    }


EXPORT_TARGET_S = 2.0


def run_exports(n: int, rounds: int, env: dict[str, str]) -> list[dict]:
    """Whole-process times of ``procviz export`` on an ``n``-task timeline recorded by procviz:
    native JSON -> CSV, native JSON -> Chrome trace, and reading the CSV back (CSV -> JSON)."""
    py = sys.executable
    rows = []
    with tempfile.TemporaryDirectory(prefix="procviz-bench-export-") as tmp:
        native, csv_file = os.path.join(tmp, "t.json"), os.path.join(tmp, "t.csv")
        measure([py, str(PROC), "procviz", "run", "--backend", "pool", "--workers", "2", "--kind", "cpu",
                 "--count", str(n), "--duration-ms", "0", "--chunksize", "1000", "--quiet", "--out", native], env)
        steps = {
            "export to CSV (JSON -> CSV)": [native, "--out", csv_file],
            "export to Chrome trace (JSON -> .trace.json)": [native, "--out", os.path.join(tmp, "t.trace.json")],
            "read CSV (CSV -> JSON)": [csv_file, "--out", os.path.join(tmp, "back.json")],
        }
        samples: dict[str, list[Sample]] = {k: [] for k in steps}
        for _ in range(rounds):
            for label, args in steps.items():  # in order: the CSV read needs the CSV written first
                samples[label].append(measure([py, str(PROC), "procviz", "export", *args], env))
    for label, runs in samples.items():
        walls = [r.wall_s for r in runs]
        size = f"{n:,}".replace(",", " ")
        rows.append({"label": f"{label}, {size} tasks", "wall_s": statistics.median(walls), "min": min(walls),
                     "max": max(walls), "peak_mib": statistics.median(r.peak_kib for r in runs) / 1024,
                     "target_s": EXPORT_TARGET_S, "samples": [asdict(r) for r in runs]})
    return rows


def compile_procviz() -> dict[str, object]:
    """Byte-compile procviz's modules, as installing a wheel does, and say how procviz is installed.

    With ``PYTHONDONTWRITEBYTECODE`` set (this machine sets it) and an editable install, nothing
    ever writes procviz's ``.pyc`` files, so every process, parent and workers, compiled procviz
    from source on each run: a cost no installed procviz has. An editable install also imports its
    finder in every process (``site``), bare ones included; the figures say which install it was.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("procviz")
    if spec is None or not spec.submodule_search_locations:
        return {"install": "not found", "compiled": False}
    editable = any(m.startswith("__editable__") for m in sys.modules)  # setuptools' editable finder
    ok = True
    for name in ("procviz", "procviz.engine", "procviz.gui", "procviz.resources"):
        sub = importlib.util.find_spec(name)
        for folder in (sub.submodule_search_locations or []) if sub else []:
            # the root package only at depth 0: its folder is the repository (tests, venv) when editable
            ok &= bool(compileall.compile_dir(folder, maxlevels=0 if name == "procviz" else 10, quiet=1))
    return {"install": "editable" if editable else "installed", "compiled": ok}


def machine() -> dict:
    """What the figures ran on, and how loaded it was."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "loadavg": os.getloadavg()}


def _verdict(value: float, target: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value <= target:
        return "meets"
    return f"misses by {100 * (value / target - 1):.0f} %"


def table(results: list[dict], extra: dict[str, dict], before: dict, after: dict,
          exports: list[dict] | None = None, install: dict | None = None) -> str:
    """The markdown table (paste-ready for the README)."""
    lines = [
        "| workload | contender | wall s (bare -> this) | wall ratio, median (min-max) | CPU ratio, median "
        "(min-max) | parent peak MiB (bare -> this) | target | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        w = r["workload"]
        bare = r["contenders"]["bare"]
        for name, c in r["contenders"].items():
            if name == "bare":
                continue
            wr, cr = c["wall_ratio"], c["cpu_ratio"]
            if name != "procviz":
                target, verdict = ("(baseline)" if name.startswith("procviz@") else "(peer)"), ""
            elif w["target"] is None:
                target, verdict = "(none set)", ""
            else:
                target, verdict = f"<= {w['target']:.2f}x", _verdict(wr["median"], w["target"])
            peak = f"{bare['peak_mib']:.0f} -> {c['peak_mib']:.0f}"
            lines.append(
                f"| {w['label']} ({w['rounds']} pairs) | {name} | {bare['wall_s']:.2f} -> {c['wall_s']:.2f} | "
                f"{wr['median']:.2f}x ({wr['min']:.2f}-{wr['max']:.2f}) | "
                f"{cr['median']:.2f}x ({cr['min']:.2f}-{cr['max']:.2f}) | {peak} | {target} | {verdict} |")
    for r in results:
        vs = r.get("vs_baseline")
        if vs:
            wr, cr, pr = vs["wall_ratio"], vs["cpu_ratio"], vs["parent_cpu_ratio"]
            lines.append(f"| {r['workload']['label']}: this procviz / {vs['baseline']} | procviz | | "
                         f"{wr['median']:.3f}x ({wr['min']:.2f}-{wr['max']:.2f}) | {cr['median']:.3f}x "
                         f"({cr['min']:.2f}-{cr['max']:.2f}); parent CPU {pr['median']:.3f}x | | | |")
    for r in results:
        if r["workload"]["key"] in ("noop1m", "fn1m"):
            c = r["contenders"]["procviz"]
            per = c["peak_bytes_per_task_above_bare"]
            lines.append(f"| {r['workload']['label']}: parent peak above bare | procviz | | | | "
                         f"{per:.0f} B/task | <= 100 B/task | {_verdict(per, 100.0)} |")
    names = {"worker_cpu_us_per_task": "worker CPU added per task (1M no-op run)",
             "parent_cpu_us_per_event": "parent CPU added per event (1M no-op run)"}
    for key, d in extra.items():
        lines.append(f"| {names[key]} | procviz | | {d['median']:.2f} us ({d['min']:.2f}-{d['max']:.2f}) | | | "
                     f"<= {d['target']} us | {_verdict(d['median'], d['target'])} |")
    for e in exports or []:
        lines.append(f"| {e['label']} ({len(e['samples'])} runs) | procviz export | {e['wall_s']:.2f} "
                     f"({e['min']:.2f}-{e['max']:.2f}) | | | {e['peak_mib']:.0f} | <= {e['target_s']:.0f} s | "
                     f"{_verdict(e['wall_s'], e['target_s'])} |")
    m = before
    lines += ["", f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, Linux {m['kernel']}; "
              f"load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in m['loadavg'])} before, "
              f"{'/'.join(f'{x:.1f}' for x in after['loadavg'])} after."]
    if install:
        lines.append(f"procviz: {install['install']} install, modules byte-compiled first "
                     f"({'done' if install['compiled'] else 'FAILED'}), as a wheel install is"
                     + (" (an editable install's finder runs in every process, the bare ones too)"
                        if install["install"] == "editable" else "") + ".")
    if max(m["loadavg"][0], after["loadavg"][0]) > (m["cores"] or 1):
        lines.append("The load exceeded the core count: other processes took CPU from both contenders at random, "
                     "so wall ratios swing (a ratio below 1 is noise); CPU ratios are the steadier figure.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print the table; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (checks the harness only)")
    parser.add_argument("--only", nargs="*", help="workload keys to run (default: all)")
    parser.add_argument("--rounds", type=int, help="pairs per workload (default: per workload)")
    parser.add_argument("--no-peers", action="store_true", help="skip MPIRE and VizTracer even if installed")
    parser.add_argument("--no-exports", action="store_true", help="skip the whole-process export timings")
    parser.add_argument("--exports-only", action="store_true", help="run only the export timings (no workloads)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "compare.json", help="where to write JSON")
    parser.add_argument("--baseline", metavar="REV", help="also run procviz at git revision REV, as a contender "
                        "(an A/B of a change)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    env.pop("BENCH_SELF_OUT", None)
    rows = [w for w in workloads(args.quick) if (not args.only or w.key in args.only) and not args.exports_only]
    if args.rounds or args.no_peers:
        rows = [Workload(**{**asdict(w), "rounds": args.rounds or w.rounds, "peers": w.peers and not args.no_peers})
                for w in rows]
    notes = [f"{name} not installed: skipped (pip install {name})" for name in ("mpire", "viztracer")
             if not _has(name)]
    install = compile_procviz()
    with tempfile.TemporaryDirectory(prefix="procviz-baseline-") as old_tree:
        baseline = None
        if args.baseline:
            name = "procviz@" + unpack_baseline(args.baseline, old_tree)
            baseline = (name, {**env, "PYTHONPATH": os.pathsep.join(filter(None, [old_tree, env.get("PYTHONPATH")]))})
        before = machine()
        results = []
        for w in rows:
            t = time.monotonic()
            results.append(summarize(w, run_workload(w, env, baseline)))
            print(f"[{w.key}: {time.monotonic() - t:.0f} s]", file=sys.stderr, flush=True)
    exports: list[dict] = []
    if not args.no_exports and not args.only:
        t = time.monotonic()
        exports = run_exports(2000 if args.quick else 1_000_000, 1 if args.quick else args.rounds or 3, env)
        print(f"[exports: {time.monotonic() - t:.0f} s]", file=sys.stderr, flush=True)
    after = machine()
    extra = derived(results)
    text = table(results, extra, before, after, exports, install)
    print(text)
    for note in notes:
        print(f"\nNote: {note}.")
    sys.stdout.flush()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine_before": before, "machine_after": after, "quick": args.quick,
                                     "procviz_install": install,
                                     "results": results, "derived": extra, "exports": exports, "notes": notes,
                                     "table": text}, indent=1))
    print(f"\nJSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
