# SPDX-License-Identifier: MIT
"""w11b_greenlet.py — docs/benchmarks.md W11(b) peer: two greenlets switching
to each other (python3-greenlet, the stackful coroutines under gevent and
eventlet), written as greenlet's users write a ping-pong: each body loops on
`other.switch()`.  One switch = one row unit (ns per switch), as one yield is
for the loop-driven rows.

Fairness: this is an explicit switch with no scheduler between the two —
no ready queue, no event loop — so it is the floor of a Python-level
switch rather than a loop's yield; weft's, Go's and asyncio's rows each go
through their scheduler.  Every switch is counted on both sides and
checked.  compare.py runs this script with the first Python that has
greenlet (the default python3, else Debian's /usr/bin/python3); the note
names it.  Options: pybench's; --items is the switches per run."""
import platform
import time

import greenlet

import pybench


def ping_pong(n):
    per = max(1, n // 2)
    counts = [0, 0]

    def body_a():
        for _ in range(per):
            counts[0] += 1
            b.switch()

    def body_b():
        while True:  # ends with GreenletExit when b is collected
            counts[1] += 1
            a.switch()

    a, b = greenlet.greenlet(body_a), greenlet.greenlet(body_b)
    start = time.perf_counter()
    a.switch()  # returns when body_a ends
    elapsed = time.perf_counter() - start
    if counts != [per, per]:
        pybench.fail(f"W11 yield greenlet: switches counted {counts}, expected {per} each")
    return elapsed * 1e9 / (2 * per)


def main():
    args = pybench.parse(pybench.parser(1000000, 3, "switches per run"))
    per = max(1, args.items // 2)
    pybench.row("W11 yield", "greenlet switch (no scheduler)",
                lambda n: note_and(ping_pong(n)), args.items, args.reps, ops=2 * per)


def note_and(figure):
    pybench.note = f"greenlet {greenlet.__version__} on CPython {platform.python_version()}"
    return figure


if __name__ == "__main__":
    main()
