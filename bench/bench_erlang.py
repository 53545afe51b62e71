"""Time erlang_c (and erlang_b) at the sizes the widgets and lessons use.

Run with ``python bench/bench_erlang.py``. Prints the median wall time of repeated calls, per
call, for each case. Targets from the issue: servers <= 1000 with ~500 loads well under 10 ms;
servers = 100 000 with a few loads under ~0.5 s.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from outage_kit.queueing import erlang_b, erlang_c

REPEATS = 15


def median_seconds(function, *args, repeats: int = REPEATS) -> float:
    """Median wall time of ``function(*args)`` over ``repeats`` calls, after one warm-up call."""
    function(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    cases = [
        ("erlang_c", erlang_c, 10, np.linspace(0.0, 9.99, 500)),
        ("erlang_c", erlang_c, 1000, np.linspace(0.0, 999.9, 500)),
        ("erlang_c", erlang_c, 100_000, np.linspace(90_000.0, 99_999.0, 5)),
        # the loss formula also takes loads above the number of servers (the series branch)
        ("erlang_b", erlang_b, 1000, np.linspace(0.0, 3000.0, 500)),
        ("erlang_b", erlang_b, 100_000, np.linspace(90_000.0, 200_000.0, 5)),
    ]
    print(f"{'function':<10} {'servers':>8} {'loads':>6} {'load range':>22} {'median':>12}")
    for name, function, servers, loads in cases:
        seconds = median_seconds(function, servers, loads)
        load_range = f"{loads.min():g}..{loads.max():g}"
        print(f"{name:<10} {servers:>8} {loads.size:>6} {load_range:>22} {seconds * 1e3:>9.3f} ms")


if __name__ == "__main__":
    main()
