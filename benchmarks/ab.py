#!/usr/bin/env python3
"""A/B timing of relu-regions binaries on one network, alternating, in fresh processes.

    python3 benchmarks/ab.py NET.json PROCESSES BINARY_A BINARY_B [...]   (REP=6 by default)

Each round runs every binary once, in a shuffled order, as `count NET --json -q --repeat REP
--no-linear`, and keeps its first enumeration ("cold": a fresh process) and the median of its
REP enumerations ("warm"; REP=1 for 3-D and 4-D networks). DEFAULT=1: the default count
instead (adjacency graph and linear regions; time = `seconds` + `graph_seconds`). ARGS: more
arguments for every run (e.g. ARGS="--subspace seg.json"). Prints the medians over PROCESSES rounds. On this project's 2-core
virtual machines timings drift by up to 2x between minutes and the second core is sometimes not
there, so compare binaries only within one such run, with 15 or more rounds for changes under
10 %. Build the old binary in its own target directory, e.g. from a `git worktree`.
"""
import json
import os
import random
import statistics
import subprocess
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    net, rounds, binaries = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    repeat = os.environ.get("REP", "6")
    times = {b: ([], []) for b in binaries}
    for _ in range(rounds):
        order = binaries[:]
        random.shuffle(order)
        for b in order:
            # REP=1: no --repeat (the lp engine, d ≥ 3, has none).
            again = ["--repeat", repeat] if repeat != "1" else []
            default = os.environ.get("DEFAULT") == "1"
            lean = [] if default else ["--no-linear"]
            out = subprocess.run(
                [b, "count", net, "--json", "-q", *lean, *again,
                 *os.environ.get("ARGS", "").split()],
                capture_output=True, text=True, check=True).stdout
            report = json.loads(out)
            graph = report.get("graph_seconds", 0.0) if default else 0.0
            times[b][0].append(report.get("seconds_first", report["seconds"]) + graph)
            times[b][1].append(report["seconds"] + graph)
    for b in binaries:
        cold, warm = times[b]
        print(f"{b}: cold {statistics.median(cold) * 1e3:.3f} ms  "
              f"warm {statistics.median(warm) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
