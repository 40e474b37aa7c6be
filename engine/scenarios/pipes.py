"""Pipe ping-pong: a ball passed around a ring of one-way Pipes (two players: ping and pong).

Each player blocks in ``recv`` (waiting) while another works on the ball, so the lanes take turns.
The ball's holder on its last hit closes its sending end; the next player's ``recv`` then raises
EOFError, it closes its own end, and so on around the ring: the tutorial's lesson that EOF comes
only once *every* copy of the sending end is closed, which is why the main program closes its
copies right after starting the players, and why each player first closes the ends it was given
only to close: a player made by ``fork`` inherits every end the main program had open, its own
input's sending end among them, and waited for ever for an EOF that its own copy held off (spawn
and forkserver pass a child only what it is given). Checked: every player hit the ball the same
number of times and the total is right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from procviz.engine.scenarios.roles import Outcome, Work
from procviz.engine.worker.primitives import Connection, Pipe

if TYPE_CHECKING:  # the main programs' toolbox; role processes must not import it (parent side)
    from procviz.engine.scenarios.context import ScenarioRun

LAPS = 4
MODULE = "procviz.engine.scenarios.pipes"


def player(index: int, left: Connection, right: Connection, total: int, hits: Any, work: Work,
           unused: tuple[Connection, ...] = ()) -> Outcome:
    """Close ``unused`` (the ring's other ends), then receive the ball from the left, hit it (work),
    send it right; stop at ``total`` or EOF."""
    for end in unused:
        end.close()
    if index == 0:
        work()
        hits[0] += 1
        right.send(1)
    reason = "the ball reached its last hit"
    while True:
        try:
            ball = left.recv()
        except EOFError:
            reason = "EOFError: the other end was closed"
            break
        if ball >= total:
            break
        work()
        hits[index] += 1
        right.send(ball + 1)
    right.close()
    return Outcome(f"hit the ball {hits[index]}×; stopped: {reason}")


def main_ping_pong(run: ScenarioRun) -> Outcome:
    """Start the players around a ring of Pipes, close this process's ends, join, check the hits."""
    players = run.role_ids
    n = len(players)
    total = LAPS * n
    pipes = [Pipe(duplex=False) for _ in players]  # (receiving end, sending end)
    hits = run.mp.RawArray("i", n)
    names = ["ping", "pong"] if n == 2 else [f"player {k + 1}" for k in range(n)]
    roles: dict[int, tuple[str, tuple[Any, ...], str, bool]] = {}
    for k, t in enumerate(players):
        left, right = pipes[k - 1][0], pipes[k][1]
        unused = tuple(end for pair in pipes for end in pair if end is not left and end is not right)
        roles[t] = (f"{MODULE}:player", (k, left, right, total, hits, run.work(t), unused), names[k], False)
    procs = run.start_roles(roles)
    for receiving, sending in pipes:  # else no player would ever see EOF
        receiving.close()
        sending.close()
    run.join(list(procs.values()))
    counts = list(hits)
    if sum(counts) != total or len(set(counts)) != 1:
        raise AssertionError(f"hits per player {counts}, expected {LAPS} each ({total} in all)")
    return Outcome(f"the ball went {LAPS}× around {n} players: {total} hits, {LAPS} each, "
                   "every recv() waited for the others")
