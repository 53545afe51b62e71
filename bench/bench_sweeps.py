"""Time two of the lessons' sweeps on each kind of executor: serial, local processes, Dask.

Run: python bench/bench_sweeps.py [--repeats N]

Two workloads, each run through :func:`outage_kit.sweeps.sweep` serially, on a local process
pool (this machine's cores) and on a local Dask cluster of as many single-threaded worker
processes; the tables must be identical on every executor (the script checks it), and it
prints the median wall time of each, pool start-up included, as a student pays it:

* lesson 07's push map: 20 base loads x 24 push sizes = 480 runs of the population model,
  four hours each at one-second steps (about a millisecond a run: start-up dominates);
* lesson 08's breaking points: 10 defence rows x 11 push sizes = 110 replays of the 2015 day
  with the service graph (a fraction of a second a run: the work dominates).

Every repeat starts with the parent's graph states forgotten
(:func:`outage_kit.mitigations.clear_graph_cache`), and a process pool starts new workers
each time; a Dask cluster's workers live across the repeats and keep theirs, so its median is
partly warm, as a long-lived cluster would be.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from outage_kit import metastability, mitigations


def push_map(executor) -> pd.DataFrame:
    return metastability.trigger_map(
        metastability.lab_params(),
        kind="push",
        sizes=[round(s, 4) for s in np.geomspace(0.001, 1.0, 24)],
        utilisations=[round(u, 4) for u in np.geomspace(0.01, 0.95, 20)],
        executor=executor,
        progress=False,
    )


def breaking_points(executor) -> pd.DataFrame:
    return mitigations.defence_breaking_point(60.0, executor=executor, progress=False)


WORKLOADS: dict[str, tuple[Callable, int]] = {
    "lesson 07 push map": (push_map, 480),
    "lesson 08 breaking points": (breaking_points, 110),
}


def time_it(run: Callable, repeats: int) -> tuple[float, pd.DataFrame]:
    """Median wall time of ``repeats`` cold runs (the graph states kept between replays are
    forgotten first, as in a fresh kernel or a fresh worker)."""
    times, frame = [], None
    for _ in range(repeats):
        mitigations.clear_graph_cache()
        start = time.perf_counter()
        frame = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        Client = LocalCluster = None
    print(f"median of {args.repeats}; {workers} cores")
    print(f"{'workload':<27} {'executor':<32} {'seconds':>8} {'ms/run':>8} {'vs serial':>10}")
    for name, (run, runs) in WORKLOADS.items():
        rows = []
        serial_s, reference = time_it(lambda run=run: run("serial"), args.repeats)
        rows.append(("serial (this process)", serial_s))
        procs_s, frame = time_it(lambda run=run: run("processes"), args.repeats)
        pd.testing.assert_frame_equal(reference, frame)
        rows.append((f"local processes ({workers})", procs_s))
        if Client is None:
            rows.append(("Dask: pip install '.[distributed]'", float("nan")))
        else:
            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                dask_s, frame = time_it(lambda run=run: run(client.get_executor()), args.repeats)
            pd.testing.assert_frame_equal(reference, frame)
            rows.append((f"Dask local cluster ({workers} workers)", dask_s))
        for executor, seconds in rows:
            print(
                f"{name:<27} {executor:<32} {seconds:8.2f} {1000 * seconds / runs:8.2f} "
                f"{serial_s / seconds:9.2f}x"
            )
    print("tables identical on every executor: yes")


if __name__ == "__main__":
    main()
