"""What the first touch of new memory costs on this machine, with and without numpy's huge-page advice.

``python benchmarks/first_touch.py [--mb 8] [--slices 10]``: in a fresh child process each, an
untouched 800 MB array is written ``--mb`` MB at a time, once with numpy's default (arrays of 4 MB or
more advised ``MADV_HUGEPAGE``: the kernel hands out 2 MB pages, zeroed at their first touch) and
once with ``NUMPY_MADVISE_HUGEPAGE=0`` (4 kB pages); then the first slice written again (memory
already touched). Medians over the slices, ms, and the minor page faults per slice, twice each,
alternated. A diagnosis of the benchmarks' noise (README, "Performance"), not a test: on a virtual
machine whose host backs guest memory at its first use, a huge page that no process used since
the machine booted costs several ms, one recycled from an earlier process a fraction of one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy as np
mb, slices = int(sys.argv[2]), int(sys.argv[3])
n = mb * 2**20 // 8
big = np.empty(100 * 2**20 // 8 * 8, np.int64)  # 800 MB, untouched
src = np.ones(n, np.int64)
first, faults = [], []
for i in range(slices):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = time.perf_counter()
    big[i * n:(i + 1) * n] = src
    first.append((time.perf_counter() - t) * 1e3)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
t = time.perf_counter()
big[:n] = src
again = (time.perf_counter() - t) * 1e3
print(json.dumps({"first": first, "faults": faults, "again": again}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=8)
    parser.add_argument("--slices", type=int, default=10)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    print(f"first touch of {args.mb} MB slices of new memory, {args.slices} slices a child")
    for mode in ("default", "off", "default", "off"):
        child_env = {**env, "NUMPY_MADVISE_HUGEPAGE": "0"} if mode == "off" else env
        out = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.mb), str(args.slices)],
                             capture_output=True, text=True, env=child_env, check=True)
        r = json.loads(out.stdout)
        label = "numpy's default (huge pages advised)" if mode == "default" else "NUMPY_MADVISE_HUGEPAGE=0 (4 kB)"
        print(f"  {label:38s} first touch {statistics.median(r['first']):6.2f} ms a slice "
              f"(min {min(r['first']):.2f}, max {max(r['first']):.2f}), "
              f"{statistics.median(r['faults']):.0f} faults; written again {r['again']:.2f} ms")


if __name__ == "__main__":
    main()
