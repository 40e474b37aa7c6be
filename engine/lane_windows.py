"""One lane's kernel counters turned into windows whose on-CPU / ready / waiting split is true.

The sampler reads a worker thread's ``schedstat`` (on-CPU ns, run-queue wait ns) and its ``stat``
state letter at every tick. A window is the time between two reads. Two kernel facts decide how
the counter deltas are attributed to windows:

* The kernel adds a run-queue wait to field 2 only when the thread *next gets a CPU*. A window
  spent entirely in the run queue shows no CPU and no ready time yet; the wait appears in the
  delta of a later window. So a window is held back (*pending*) until the kernel has had the
  chance to report every wait that overlapped it, and a later delta is spread back over the
  pending windows in which the thread was runnable (state ``R`` at their boundaries), never left
  as "waiting" by subtraction.
* A pending window is settled once the thread was seen not runnable (sleeping, blocked: no wait
  can be in progress) or got CPU in a later window (a wait in progress at that window's start has
  ended, so it has been added). A thread starved for longer than ``hold_ns`` is settled with its
  runnable time provisionally counted as ready (windows it spent without CPU, runnable at both
  ends); the kernel's later report pays that credit back instead of counting it twice.

A running thread's on-CPU counter is brought up to date at scheduler ticks, so a read can lag by
one or more ticks: the last ``buffer_ns`` of runnable windows stay pending to take the late CPU
time. What still finds no room in the pending windows is carried into the next windows (a
*debt*), so the sums stay the kernel's.

Invariants (checked by tests): windows tile the lane from its baseline to its last read with no
gap and no overlap; no window has cpu + ready above its length; the sum of cpu and of ready over
the windows equals the kernel's deltas less what could not be placed by the lane's end
(``unplaced_*``, reported for diagnosis).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Window:
    """One sample window of a lane; times in monotonic ns."""

    start: int
    end: int
    cpu: int = 0
    ready: int = 0
    runnable_start: bool = False  # state R at ``start``
    runnable_end: bool = False  # state R at ``end``

    @property
    def free(self) -> int:
        """Time of the window not yet attributed to on-CPU or ready."""
        return self.end - self.start - self.cpu - self.ready


def _fill(windows: list[Window], amount: int, attr: str) -> int:
    """Add up to ``amount`` to ``attr`` of ``windows`` in order, each up to its free time;
    returns what is left."""
    for w in windows:
        if amount <= 0:
            break
        take = min(amount, w.free)
        if take > 0:
            setattr(w, attr, getattr(w, attr) + take)
            amount -= take
    return amount


@dataclass(slots=True)
class LaneWindows:
    """Per-lane window builder; see the module docstring."""

    last_t: int
    last_cpu: int
    last_ready: int
    last_runnable: bool = False
    hold_ns: int = 500_000_000
    buffer_ns: int = 60_000_000  # recent runnable windows stay open this long (counter lag)
    pending: list[Window] = field(default_factory=list)
    credit: int = 0  # ready time already shown provisionally, to be paid back by the kernel
    cpu_debt: int = 0  # counted time that found no room yet: placed in the next windows
    ready_debt: int = 0
    unplaced_cpu: int = 0
    unplaced_ready: int = 0
    _last_ref: Window | None = None  # the last settled window that had on-CPU or ready time

    def feed(self, t_ns: int, cpu: int, ready: int, runnable: bool) -> list[Window]:
        """Take one read (counters at ``t_ns`` and whether the thread is runnable then);
        returns the windows that became settled, oldest first."""
        if t_ns <= self.last_t:
            return []
        d_cpu = max(cpu - self.last_cpu, 0)
        d_ready = max(ready - self.last_ready, 0)
        w = Window(self.last_t, t_ns, runnable_start=self.last_runnable, runnable_end=runnable)
        self.pending.append(w)
        self.last_t, self.last_cpu, self.last_ready, self.last_runnable = t_ns, cpu, ready, runnable
        self.cpu_debt = self._place_cpu(d_cpu + self.cpu_debt)
        self.ready_debt = self._place_ready(d_ready + self.ready_debt)
        if not runnable:
            return self._settle(len(self.pending))
        out = []
        if d_cpu > 0:
            # Waits in progress before this window have ended; a running thread's on-CPU counter
            # may still lag (it is brought up to date at scheduler ticks): keep the last
            # ``buffer_ns`` open for it.
            recent = sum(1 for w in self.pending if w.end > t_ns - self.buffer_ns)
            out = self._settle(len(self.pending) - max(recent, 1))
        if self.pending and t_ns - self.pending[0].start > self.hold_ns:
            out += self._settle(len(self.pending) - 1, provisional=True)
        return out

    def end_unread(self, t_ns: int) -> list[Window]:
        """The thread ended at ``t_ns`` and its last counters cannot be read (a thread is gone
        at once, unlike a process's zombie): blocked at the last read, it stayed blocked; runnable,
        the time since is split between on-CPU and ready as in the window before (an estimate,
        the kernel will not report it). Settles everything."""
        if t_ns > self.last_t:
            w = Window(self.last_t, t_ns, runnable_start=self.last_runnable)
            if self.last_runnable:
                ref = next((p for p in reversed(self.pending) if p.cpu + p.ready > 0), self._last_ref)
                share = ref.cpu / (ref.cpu + ref.ready) if ref is not None and ref.cpu + ref.ready > 0 else 0.0
                w.cpu = int((t_ns - self.last_t) * share)
                w.ready = t_ns - self.last_t - w.cpu
            self.pending.append(w)
            self.last_t = t_ns
        return self._settle(len(self.pending)) + self.flush()

    def flush(self) -> list[Window]:
        """Settle everything (the lane ends or the run ends): runnable time still unreported
        by the kernel is shown as ready, as it is."""
        self.cpu_debt = self._place_cpu(self.cpu_debt)
        self.ready_debt = self._place_ready(self.ready_debt)
        self.unplaced_cpu += self.cpu_debt
        self.unplaced_ready += self.ready_debt
        self.cpu_debt = self.ready_debt = 0
        return self._settle(len(self.pending), provisional=True)

    def _place_cpu(self, amount: int) -> int:
        """Place on-CPU time; returns what found no room (a debt for the next windows)."""
        # Current window first; an excess (a running thread's counter lags) belongs to the
        # windows just before.
        return _fill(self.pending[::-1], amount, "cpu")

    def _place_ready(self, amount: int) -> int:
        """Place run-queue time; returns what found no room (a debt for the next windows)."""
        pay = min(amount, self.credit)
        self.credit -= pay
        amount -= pay
        if amount <= 0 or not self.pending:
            return max(amount, 0)
        current = self.pending[-1]
        # A wait that ended in this window and began earlier spans every boundary back to its
        # start, and the thread was runnable at each of them: fill that chain first, then this
        # window, then (counter skew between reads) whatever pending window has room.
        chain: list[Window] = []
        for w in self.pending[-2::-1]:
            if not w.runnable_end:
                break
            chain.append(w)
        amount = _fill(chain, amount, "ready")
        amount = _fill([current], amount, "ready")
        return _fill(self.pending[::-1], amount, "ready")

    def _settle(self, n: int, provisional: bool = False) -> list[Window]:
        """Emit the oldest ``n`` pending windows."""
        if n <= 0:
            return []
        out, self.pending = self.pending[:n], self.pending[n:]
        self._last_ref = next((w for w in reversed(out) if w.cpu + w.ready > 0), self._last_ref)
        if provisional:
            for w in out:
                # Only a window without CPU: a thread blocks only while running, so runnable at the
                # start and never on a CPU means runnable all through. A window with CPU (or a long
                # one, while the sampler was kept off the CPU) may hold blocked time between two
                # runnable reads, which the kernel never reports as ready: credited, it stayed ready.
                if w.runnable_start and w.runnable_end and w.cpu == 0 and w.free > 0:
                    self.credit += w.free
                    w.ready += w.free
        return out
