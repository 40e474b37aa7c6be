"""An independent per-thread sampler for fidelity tests: its own process, its own /proc reads.

Run as ``python independent_sampler.py ROOT_PID OUT_PATH``: every 10 ms it walks ROOT_PID's
threads and descendants (``/proc/<pid>/task/<tid>/children``) and reads each thread's
``schedstat`` (on-CPU ns, run-queue wait ns) and ``stat`` state letter, stamping each read with
``time.monotonic_ns()`` before and after (the same clock as procviz). It stops when its stdin
closes and writes ``{"tid": [[t_before, t_after, cpu, ready, state], ...]}`` plus
``{"gone": {tid: [last_alive_t, first_dead_t]}}`` (first read that failed or saw Z/X).

It shares no code with procviz's sampler on purpose.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

PERIOD_S = 0.01


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _tasks(root: int) -> list[tuple[int, int]]:
    """(pid, tid) of every thread of ``root`` and of its descendants."""
    out: list[tuple[int, int]] = []
    stack = [root]
    seen = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            out.append((pid, tid))
            kids = _read(f"/proc/{pid}/task/{tid}/children")
            if kids:
                stack.extend(int(k) for k in kids.split())
    return out


def main(root: int, out_path: str) -> None:
    """Sample until stdin closes, then write the samples."""
    series: dict[int, list[list]] = {}
    known: dict[int, int] = {}  # tid -> pid
    last_alive: dict[int, int] = {}
    gone: dict[int, list[int]] = {}
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.is_set():
        for pid, tid in _tasks(root):
            known.setdefault(tid, pid)
        for tid, pid in known.items():
            if tid in gone:
                continue
            t0 = time.monotonic_ns()
            stat = _read(f"/proc/{pid}/task/{tid}/stat")
            sched = _read(f"/proc/{pid}/task/{tid}/schedstat")
            t1 = time.monotonic_ns()
            state = chr(stat[stat.rfind(b")") + 2]) if stat else "X"
            if sched is None or state in "ZX":
                if sched is not None:  # a zombie: its final counters are still there
                    cpu, ready = (int(v) for v in sched.split()[:2])
                    series.setdefault(tid, []).append([t0, t1, cpu, ready, state])
                gone[tid] = [last_alive.get(tid, t0), t1]
                continue
            cpu, ready = (int(v) for v in sched.split()[:2])
            series.setdefault(tid, []).append([t0, t1, cpu, ready, state])
            last_alive[tid] = t1
        time.sleep(PERIOD_S)
    with open(out_path, "w") as f:
        json.dump({"series": series, "gone": gone, "pids": known}, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
