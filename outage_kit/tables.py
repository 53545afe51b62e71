"""Tidy tables of model output, ready for charts and widgets.

Each function evaluates a model from :mod:`outage_kit.queueing` over a grid and
returns a long-format pandas DataFrame (one row per point, columns named with
units). They hold no display logic; :mod:`outage_kit.charts` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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


# --- lesson 02: timeouts and retries ----------------------------------------------------------

#: The time series that :func:`storm_traces` keeps, and the names it gives them.
STORM_MEASURES = {
    "arrival_rate_per_s": "new requests",
    "offered_rate_per_s": "attempts sent",
    "throughput_per_s": "work done (throughput)",
    "goodput_per_s": "answers in time (goodput)",
}


def storm_traces(results: Mapping[str, object]) -> pd.DataFrame:
    """Time series of simulation runs in long format: one row per run, bin and measure.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        Runs by name (e.g. one per set-up of :func:`outage_kit.retries.retry_setups`).

    Returns
    -------
    pandas.DataFrame
        Columns ``setup``, ``time_s`` (start of the bin), ``measure`` (one of
        :data:`STORM_MEASURES`' names) and ``rate_per_s``.

    Examples
    --------
    >>> from outage_kit.retries import SpikeScenario, retry_setups
    >>> s = SpikeScenario(horizon_s=40.0, bin_s=10.0)
    >>> t = storm_traces({"no retries": s.run(retry_setups(s)["no retries"])})
    >>> len(t), sorted(t.measure.unique())[0]
    (16, 'answers in time (goodput)')
    """
    frames = []
    for name, result in results.items():
        series = result.timeseries
        for column, measure in STORM_MEASURES.items():
            frames.append(
                pd.DataFrame(
                    {
                        "setup": name,
                        "time_s": series["time_s"].to_numpy(),
                        "measure": measure,
                        "rate_per_s": series[column].to_numpy(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def storm_summary(results: Mapping[str, object], after_s: float) -> pd.DataFrame:
    """What each run did, in one row: successes, amplification, waste, goodput after ``after_s``.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        Runs by name.
    after_s : float
        Start of the window over which the late goodput is measured (e.g. the spike's end);
        the window runs to the end of the run.

    Returns
    -------
    pandas.DataFrame
        Columns ``setup``; ``requests_succeeded`` (share of all requests);
        ``attempts_per_request``; ``work_wasted`` (share of the workers' busy time spent on
        attempts whose client had gone); ``goodput_after`` (answers in time per second, mean
        over the window) and ``goodput_after_share`` (the same over the new requests'
        arrival rate in the window); ``back_after_s`` (seconds from ``after_s`` to the first
        bin whose goodput reaches 90 % of its arrivals; missing if none);
        ``response_after_s`` (mean over the window's bins of each bin's median response time
        of the attempts served: above the timeout, the work done reaches nobody).

    Examples
    --------
    >>> from outage_kit.retries import SpikeScenario, retry_setups
    >>> s = SpikeScenario(horizon_s=60.0)
    >>> runs = {k: s.run(v) for k, v in retry_setups(s).items() if k != "retry budget"}
    >>> t = storm_summary(runs, after_s=s.spike_end_s)
    >>> bool(t.set_index("setup").loc["immediate retries", "goodput_after_share"] < 0.05)
    True
    """
    rows = []
    for name, result in results.items():
        s = result.summary
        series = result.timeseries
        late = series[series["time_s"] >= after_s - 1e-9]
        arrivals = late["arrival_rate_per_s"].mean()
        back = late["time_s"][late["goodput_per_s"] >= 0.9 * late["arrival_rate_per_s"]]
        rows.append(
            {
                "setup": name,
                "requests_succeeded": s.success_fraction,
                "attempts_per_request": s.attempts_per_request,
                "work_wasted": s.wasted_fraction,
                "goodput_after": late["goodput_per_s"].mean(),
                "goodput_after_share": late["goodput_per_s"].mean() / arrivals,
                "back_after_s": float(back.min() - after_s) if len(back) else np.nan,
                "response_after_s": late["latency_p50_s"].mean(),
            }
        )
    return pd.DataFrame(rows)


def tipping_table(
    scenario,
    setups: Mapping[str, tuple],
    spike_durations_s: Sequence[float],
    seeds: int = 20,
    window_s: float = 20.0,
) -> pd.DataFrame:
    """Share of seeded runs that end stuck, per set-up and spike length (how big a trigger tips it).

    Parameters
    ----------
    scenario : outage_kit.retries.SpikeScenario
        The service and spike; ``spike_duration_s`` is replaced by each value in turn.
    setups : mapping of str to (RetryPolicy, ServerPolicy)
        The set-ups to compare (e.g. some of :func:`outage_kit.retries.retry_setups`).
    spike_durations_s : sequence of float
        Spike lengths to try.
    seeds : int
        Runs per cell (seeds 0 to ``seeds - 1``; the same seeds for every cell).
    window_s : float
        Final window of :func:`outage_kit.retries.is_stuck`.

    Returns
    -------
    pandas.DataFrame
        Columns ``setup``, ``spike_duration_s``, ``runs``, ``stuck`` (count) and
        ``stuck_share``.

    Examples
    --------
    >>> from outage_kit.retries import SpikeScenario, retry_setups
    >>> s = SpikeScenario(horizon_s=60.0)
    >>> setups = {k: retry_setups(s)[k] for k in ["no retries", "immediate retries"]}
    >>> tipping_table(s, setups, [5.0], seeds=2)[["setup", "stuck_share"]]
                   setup  stuck_share
    0         no retries          0.0
    1  immediate retries          1.0
    """
    from outage_kit.retries import is_stuck

    rows = []
    for name, setup in setups.items():
        for duration in spike_durations_s:
            variant = scenario.replace(spike_duration_s=float(duration))
            stuck = sum(
                is_stuck(variant.run(setup, seed=seed), window_s=window_s)
                for seed in range(int(seeds))
            )
            rows.append(
                {
                    "setup": name,
                    "spike_duration_s": float(duration),
                    "runs": int(seeds),
                    "stuck": int(stuck),
                    "stuck_share": stuck / int(seeds),
                }
            )
    return pd.DataFrame(rows)


def amplification_table(
    failure_probabilities: Sequence[float],
    attempts_per_layer: int,
    layers_options: Sequence[int],
) -> pd.DataFrame:
    """Calls reaching the bottom service per user action, over the bottom's failure probability.

    The closed form :func:`outage_kit.retries.layered_calls`, one curve per number of layers.

    Returns
    -------
    pandas.DataFrame
        Columns ``layers``, ``failure_probability``, ``bottom_calls``.

    Examples
    --------
    >>> amplification_table([0.0, 1.0], 4, [1, 3])
       layers  failure_probability  bottom_calls
    0       1                  0.0           1.0
    1       1                  1.0           4.0
    2       3                  0.0           1.0
    3       3                  1.0          64.0
    """
    from outage_kit.retries import layered_calls

    p = np.asarray(failure_probabilities, dtype=float)
    frames = [
        pd.DataFrame(
            {
                "layers": int(layers),
                "failure_probability": p,
                "bottom_calls": np.atleast_1d(layered_calls(p, attempts_per_layer, layers)),
            }
        )
        for layers in layers_options
    ]
    return pd.concat(frames, ignore_index=True)


def jitter_experiment(
    clients_options: Sequence[int] = (10, 20, 30, 40, 50),
    rules: Mapping[str, object] | None = None,
    runs: int = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """The AWS backoff-and-jitter experiment: calls and completion time per rule and client count.

    Runs :func:`outage_kit.contention.occ_contention` for every rule and number of clients
    (the rules share their random numbers).

    Parameters
    ----------
    clients_options : sequence of int
        Numbers of contending clients.
    rules : mapping of str to Backoff, optional
        Default: :func:`outage_kit.contention.aws_backoff_rules` without "no backoff".
    runs : int
        Runs per cell.
    seed : int
        Seed of the common random numbers.

    Returns
    -------
    pandas.DataFrame
        Columns ``rule``, ``clients``, ``mean_calls``, ``calls_ci95`` (half-width of a normal
        95 % interval for the mean), ``mean_completion_ms``, ``completion_ci95_ms``.

    Examples
    --------
    >>> t = jitter_experiment([5], runs=10)
    >>> list(t.rule)
    ['exponential, no jitter', 'equal jitter', 'full jitter', 'decorrelated jitter']
    >>> bool((t.mean_calls >= 5).all())
    True
    """
    from outage_kit.contention import aws_backoff_rules, occ_contention

    if rules is None:
        rules = {k: v for k, v in aws_backoff_rules().items() if k != "no backoff"}
    rows = []
    for name, rule in rules.items():
        for clients in clients_options:
            r = occ_contention(int(clients), rule, runs=runs, seed=seed)
            scale = 1.96 / np.sqrt(r.runs) if r.runs > 1 else np.nan
            rows.append(
                {
                    "rule": name,
                    "clients": int(clients),
                    "mean_calls": r.mean_calls,
                    "calls_ci95": float(np.std(r.calls, ddof=1) * scale) if r.runs > 1 else np.nan,
                    "mean_completion_ms": 1000.0 * r.mean_completion_s,
                    "completion_ci95_ms": float(1000.0 * np.std(r.completion_s, ddof=1) * scale)
                    if r.runs > 1
                    else np.nan,
                }
            )
    return pd.DataFrame(rows)


def cross_check_series(
    knocked: Sequence[int] = (800, 1500),
    *,
    runs: int = 8,
    clients: int = 3000,
    workers: int = 10,
    service_s: float = 0.1,
    timeout_s: float = 5.0,
    push_s: float = 10.0,
    horizon_s: float = 60.0,
) -> pd.DataFrame:
    """The population model and seeded request-level runs of one small closed storm.

    ``clients`` clients, ``knocked`` of them knocked off at ``push_s``; no churn and no
    steady-state traffic; ``workers`` workers of ``service_s`` (exponential), so a capacity of
    ``workers / service_s`` sign-ins per second; the same jittered exponential backoff
    (1 s, ×2, cap 8 s, jitter 0.5) in both models; the server keeps expired work. As in
    ``tests/test_storm.py``, each knocked-off client is one request of
    :func:`outage_kit.simulation.simulate` that retries until it signs in.

    Returns
    -------
    pandas.DataFrame
        ``knocked``, ``time_s``, ``model`` (the population model's connected share), ``mean``,
        ``low`` and ``high`` (mean and range of the runs' connected share).

    Examples
    --------
    >>> f = cross_check_series((800,), runs=2)
    >>> list(f.columns), len(f)
    (['knocked', 'time_s', 'model', 'mean', 'low', 'high'], 60)
    """
    from outage_kit.policies import ExponentialBackoff, RetryPolicy, ServerPolicy
    from outage_kit.simulation import Service, simulate
    from outage_kit.storm import ConfigPush, StormParams, VersionMix, run_storm

    backoff = ExponentialBackoff(base_s=1.0, cap_s=8.0, multiplier=2.0, jitter=0.5)
    frames = []
    for k in knocked:
        params = StormParams(
            population=clients,
            signin_capacity_per_s=workers / service_s,
            timeout_s=timeout_s,
            version_mix=VersionMix.two_groups(k / clients),
            triggers=(ConfigPush(push_s),),
            retry=backoff,
            steady_rate_per_client_per_s=0.0,
            session_s=math.inf,
            server_policy=ServerPolicy(),
            horizon_s=horizon_s,
            dt_s=0.1,
            output_every_s=1.0,
        )
        fluid = run_storm(params).timeseries
        shares = []
        for seed in range(runs):
            run = simulate(
                interarrival_s=[push_s] + [0.0] * (k - 1),
                service=Service(service_s),
                workers=workers,
                timeout_s=timeout_s,
                retry=RetryPolicy(backoff, max_attempts=1000),
                server_policy=ServerPolicy(),
                horizon_s=horizon_s,
                bin_s=1.0,
                seed=seed,
            )
            counts = run.counts
            waiting = counts.requests.to_numpy() - counts.requests_succeeded.to_numpy()
            shares.append((clients - waiting[:-1]) / clients)
        shares = np.array(shares)
        frames.append(
            pd.DataFrame(
                {
                    "knocked": k,
                    "time_s": fluid.time_s.to_numpy(),
                    "model": fluid.connected_share.to_numpy(),
                    "mean": shares.mean(axis=0),
                    "low": shares.min(axis=0),
                    "high": shares.max(axis=0),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
