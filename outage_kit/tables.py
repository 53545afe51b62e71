"""Tidy tables of model output, ready for charts and widgets.

Each function evaluates a model from :mod:`outage_kit.queueing` over a grid and
returns a long-format pandas DataFrame (one row per point, columns named with
units). They hold no display logic; :mod:`outage_kit.charts` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from outage_kit import queueing


def utilisation_grid(points: int = 60, closest_to_one: float = 0.005) -> np.ndarray:
    """Return utilisations from 0 towards 1, denser near 1 where the curves bend.

    Examples
    --------
    >>> grid = utilisation_grid(5, 0.01)
    >>> [round(float(x), 3) for x in grid]
    [0.0, 0.684, 0.9, 0.968, 0.99]
    """
    if points < 2:
        raise ValueError(f"points must be at least 2, got {points}")
    if not 0 < closest_to_one < 1:
        raise ValueError(f"closest_to_one must lie in (0, 1), got {closest_to_one}")
    return 1.0 - np.geomspace(1.0, closest_to_one, points)


def latency_curves(
    service_rate_per_s: float,
    servers_options: Sequence[int],
    points: int = 60,
    utilisations: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Mean and 99th-percentile response time of M/M/c against arrival rate, per server count.

    Parameters
    ----------
    service_rate_per_s : float
        Requests one server completes per second (mu).
    servers_options : sequence of int
        The server counts c to tabulate.
    points : int
        Points per curve, from zero load to 99.5 % utilisation, denser near 1.
    utilisations : sequence of float, optional
        The utilisations to tabulate instead (each in [0, 1)).

    Returns
    -------
    pandas.DataFrame
        Columns ``servers``, ``arrival_rate_per_s``, ``utilisation``,
        ``mean_response_ms`` (wait plus service) and ``p99_wait_ms`` (the
        99th percentile of the time spent queueing).

    Examples
    --------
    >>> table = latency_curves(10.0, [1, 2], points=3)
    >>> table[["servers", "arrival_rate_per_s", "mean_response_ms"]].round(1)
       servers  arrival_rate_per_s  mean_response_ms
    0        1                 0.0             100.0
    1        1                 9.3            1414.2
    2        1                10.0           20000.0
    3        2                 0.0             100.0
    4        2                18.6             733.0
    5        2                19.9           10025.1
    """
    if utilisations is None:
        grid = utilisation_grid(points)
    else:
        grid = np.asarray(utilisations, dtype=float)
        if grid.ndim != 1 or not np.all((grid >= 0) & (grid < 1)):
            raise ValueError("utilisations must be a sequence of numbers in [0, 1)")
    frames = []
    for servers in servers_options:
        rho = grid
        arrival = rho * servers * service_rate_per_s
        metrics = queueing.mmc_metrics(arrival, service_rate_per_s, servers)
        p99 = queueing.mmc_wait_quantile(0.99, arrival, service_rate_per_s, servers)
        frames.append(
            pd.DataFrame(
                {
                    "servers": int(servers),
                    "arrival_rate_per_s": arrival,
                    "utilisation": rho,
                    "mean_response_ms": np.asarray(metrics.mean_response_s) * 1000.0,
                    "p99_wait_ms": np.asarray(p99) * 1000.0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def finite_queue_curves(
    service_rate_per_s: float,
    servers: int,
    queue_capacities: Sequence[int],
    max_utilisation: float = 2.0,
    points: int = 161,
) -> pd.DataFrame:
    """Blocking probability and mean response of M/M/c/K against arrival rate, per queue size.

    The system holds at most ``servers + queue_capacity`` requests; the offered
    utilisation runs from 0 to ``max_utilisation``, past 1, since a finite system
    always has a steady state.

    Returns
    -------
    pandas.DataFrame
        Columns ``queue_capacity``, ``arrival_rate_per_s``, ``offered_utilisation``,
        ``prob_block``, ``mean_response_ms`` (of admitted requests) and
        ``throughput_per_s``.

    Examples
    --------
    >>> t = finite_queue_curves(10.0, 1, [0], max_utilisation=1.0, points=3)
    >>> t[["arrival_rate_per_s", "prob_block", "mean_response_ms"]]
       arrival_rate_per_s  prob_block  mean_response_ms
    0                 0.0    0.000000             100.0
    1                 5.0    0.333333             100.0
    2                10.0    0.500000             100.0
    """
    if max_utilisation <= 0:
        raise ValueError(f"max_utilisation must be positive, got {max_utilisation}")
    frames = []
    arrival = np.linspace(0.0, max_utilisation * servers * service_rate_per_s, points)
    for queue_capacity in queue_capacities:
        metrics = queueing.mmck_metrics(
            arrival, service_rate_per_s, servers, servers + int(queue_capacity)
        )
        frames.append(
            pd.DataFrame(
                {
                    "queue_capacity": int(queue_capacity),
                    "arrival_rate_per_s": np.round(arrival, 6),
                    "offered_utilisation": arrival / (servers * service_rate_per_s),
                    "prob_block": np.asarray(metrics.prob_block, dtype=float),
                    "mean_response_ms": 1000.0 * np.asarray(metrics.mean_response_s, dtype=float),
                    "throughput_per_s": np.asarray(metrics.throughput_per_s, dtype=float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
