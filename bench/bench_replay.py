"""Benchmark outage_kit.scenarios: the 2015 replay, one-way and two-way.

Run from the repository root::

    .venv/bin/python bench/bench_replay.py            # full benchmark
    .venv/bin/python bench/bench_replay.py --quick    # fewer repeats

A replay runs the population model over the day at 1 s steps and evaluates the service graph
every 5 minutes. The two-way replay (the default) repeats this in rounds until the share of
sign-ins failing behind the sign-in service settles (three rounds for the card). Each case
is timed cold (no graph states kept: every distinct load is solved) and warm (the graph
states shared between runs, as the mitigations lab and its panel keep them). Times are
medians over repeats, after one untimed warm-up run (numba compiles or loads its cache).
There is no SimPy or Ciw counterpart of a coupled replay; the figures say what a replay
costs in a lesson, and what the feedback adds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from outage_kit.scenarios import skype_2015


def median_s(scenario, repeats: int, *, warm: bool) -> float:
    cache: dict = {}
    scenario.run(graph_cache=cache if warm else None)  # warm-up (and, if warm, the cache)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        scenario.run(graph_cache=cache if warm else None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    one_way = skype_2015(feedback=False)
    two_way = skype_2015()
    rounds = two_way.run().feedback_rounds
    print("outage_kit.scenarios: the 2015 replay (a day at 1 s steps, graph every 5 min); medians")
    print()
    print(f"| {'replay':<26} | {'cold':>8} | {'warm':>8} |")
    print(f"|{'-' * 28}|{'-' * 10}|{'-' * 10}|")
    results = {}
    for name, scenario in (("one-way", one_way), (f"two-way ({rounds} rounds)", two_way)):
        cold = median_s(scenario, repeats, warm=False)
        warm = median_s(scenario, repeats, warm=True)
        results[name] = (cold, warm)
        print(f"| {name:<26} | {cold:>6.2f} s | {warm:>6.2f} s |")
    (c1, w1), (c2, w2) = results.values()
    print()
    print(f"two-way over one-way: {c2 / c1:.1f}x cold, {w2 / w1:.1f}x warm")


if __name__ == "__main__":
    main()
