"""Time lesson 07's trigger map on each kind of executor: serial, local processes, Dask.

Run: python bench/bench_sweeps.py [--repeats N]

The workload is the push map of lesson 07 (14 base loads x 16 push sizes = 224 runs of the
population model, four hours each at one-second steps), run through
:func:`outage_kit.sweeps.sweep` serially, on a local process pool (this machine's cores), and on
a local Dask cluster of as many single-threaded worker processes. The maps must be identical;
the script checks it and prints the median wall time of each (pool start-up included, as a
student pays it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd

from outage_kit import metastability


def workload() -> dict:
    return {
        "params": metastability.lab_params(),
        "kind": "push",
        "sizes": [round(s, 4) for s in np.geomspace(0.001, 1.0, 16)],
        "utilisations": [round(u, 4) for u in np.geomspace(0.01, 0.95, 14)],
        "progress": False,
    }


def time_it(run, repeats: int) -> tuple[float, pd.DataFrame]:
    times, frame = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        frame = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = workload()
    runs = len(work["sizes"]) * len(work["utilisations"])
    workers = os.cpu_count() or 1
    rows = []
    serial_s, reference = time_it(
        lambda: metastability.trigger_map(**work, executor="serial"), args.repeats
    )
    rows.append(("serial (this process)", serial_s))
    procs_s, frame = time_it(lambda: metastability.trigger_map(**work), args.repeats)
    pd.testing.assert_frame_equal(reference, frame)
    rows.append((f"local processes ({workers})", procs_s))
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        rows.append(("Dask (not installed: pip install 'outage_kit[distributed]')", float("nan")))
    else:
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            dask_s, frame = time_it(
                lambda: metastability.trigger_map(**work, executor=client.get_executor()),
                args.repeats,
            )
        pd.testing.assert_frame_equal(reference, frame)
        rows.append((f"Dask local cluster ({workers} workers)", dask_s))
    print(f"lesson 07 push map: {runs} runs of 4 h at 1 s steps; median of {args.repeats}")
    print(f"{'executor':<45} {'seconds':>8} {'ms/run':>8} {'vs serial':>10}")
    for name, seconds in rows:
        print(f"{name:<45} {seconds:8.2f} {1000 * seconds / runs:8.2f} {serial_s / seconds:9.2f}x")
    print("maps identical on every executor: yes")


if __name__ == "__main__":
    main()
