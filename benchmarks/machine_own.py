"""Is the machine lane's "own" CPU the run's own? Checked against the kernel's cgroup accounting.

Usage: ``python benchmarks/machine_own.py [PRESET ...] [--procviz PATH]`` (default: the presets the
tutorials teach with several processes; procviz: ``python -m procviz`` of this interpreter). Each
preset runs as ``procviz run --preset P --quiet`` in
a cpuacct cgroup of its own, made for the purpose (needs a writable cgroup hierarchy: root in a
container, or a delegated cgroup; skipped with a note otherwise). The cgroup's CPU counter covers
every process and thread of the run, however short-lived, and is polled every 5 ms on the same
monotonic clock as procviz's timestamps. From the timeline procviz wrote:

* own: the machine lane's own CPU, summed over its rows (share x window x CPUs);
* inside: the cgroup's CPU over the same span (first row start -> last row end);
* own / inside: 1.00 is right. A little above 1 is expected for short runs: a boot that began
  before the oldest row held is counted into it;
* other, and "true other": busy less own, and busy less the cgroup's figure, as shares of the
  run's CPUs: what the "other programs used N %" note is built on, and what it should have said.

The figures depend on the machine's load only through "other"; own / inside should hold at any load.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = ["scenario_manager_counter", "scenario_semaphore", "scenario_value_array", "scenario_pipe_ping_pong",
           "07_cpu_more_workers_than_cores", "backend_7_process_per_task", "05_map_chunksize"]
V1 = Path("/sys/fs/cgroup/cpuacct")
V2 = Path("/sys/fs/cgroup")
CANNOT_JOIN = 97  # the shell's exit code when it could not move itself into the group


class Group:
    """A cgroup of its own with a CPU-time counter (v1 cpuacct or v2 cpu.stat)."""

    def __init__(self) -> None:
        name = f"procviz-bench-{os.getpid()}"
        if (V1 / "cpuacct.usage").exists():
            self.path, self.v2 = V1 / name, False
        elif (V2 / "cgroup.controllers").exists():
            self.path, self.v2 = V2 / name, True
        else:
            raise OSError("no cgroup hierarchy with a CPU counter")
        self.path.mkdir()

    def usage_ns(self) -> int:
        if self.v2:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) * 1000
            return 0
        return int((self.path / "cpuacct.usage").read_text())

    def run(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the group (the shell joins it, then execs)."""
        join = f'echo $$ > {self.path}/cgroup.procs || exit {CANNOT_JOIN}; exec "$0" "$@"'
        return subprocess.Popen(["sh", "-c", join, *argv], stdout=subprocess.DEVNULL)

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)  # the last processes are still leaving


def check(group: Group, procviz: list[str], preset: str, folder: str) -> dict[str, float]:
    out = os.path.join(folder, f"{preset}.json")
    u0 = group.usage_ns()
    proc = group.run([*procviz, "run", "--preset", preset, "--out", out, "--quiet"])
    series: list[tuple[int, int]] = []
    while proc.poll() is None:
        series.append((time.monotonic_ns(), group.usage_ns() - u0))
        time.sleep(0.005)
    series.append((time.monotonic_ns(), group.usage_ns() - u0))
    if proc.returncode == CANNOT_JOIN:
        raise OSError("cannot move a process into the cgroup")
    if not os.path.exists(out):
        raise SystemExit(f"{preset}: procviz wrote no timeline (exit code {proc.returncode})")
    with open(out, encoding="utf-8") as f:
        m = json.load(f)["machine"]
    own = busy = capacity = 0.0
    for s, e, c, b, o in zip(m["start_ns"], m["end_ns"], m["cpus"], m["busy"], m["own"], strict=True):
        w = (e - s) * 1e-9 * c
        own, busy, capacity = own + o * w, busy + b * w, capacity + w
    stamps = [t for t, _ in series]

    def at(t: int) -> float:
        return series[min(bisect.bisect_left(stamps, t), len(series) - 1)][1] * 1e-9

    inside = at(m["end_ns"][-1]) - at(m["start_ns"][0])
    return {"code": proc.returncode, "own_s": own, "inside_s": inside,
            "ratio": own / inside if inside else float("nan"), "other": (busy - own) / capacity,
            "true_other": (busy - inside) / capacity}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=DEFAULT)
    parser.add_argument("--procviz", help="the procviz command to check (default: python -m procviz)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    procviz = [args.procviz] if args.procviz else [sys.executable, "-m", "procviz"]
    try:
        group = Group()
    except OSError as exc:
        print(f"skipped: cannot make a cgroup here ({exc})")
        return 0
    try:
        return _table(group, procviz, args.presets, args.repeat)
    except OSError as exc:
        print(f"skipped: {exc}")
        return 0
    finally:
        group.remove()


def _table(group: Group, procviz: list[str], presets: list[str], repeat: int) -> int:
    print(f"load average {os.getloadavg()[0]:.1f}; procviz: {' '.join(procviz)}")
    print("| preset | own s | cgroup s (same span) | own / cgroup | other | true other |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for preset in presets:
            for _ in range(repeat):
                r = check(group, procviz, preset, folder)
                print(f"| {preset} | {r['own_s']:.2f} | {r['inside_s']:.2f} | {r['ratio']:.2f} | "
                      f"{r['other'] * 100:.0f} % | {r['true_other'] * 100:.0f} % |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
