"""Retries in closed form and in simulation: how they multiply load, and when a storm lasts.

Closed forms
------------
* :func:`attempts_per_call`: expected attempts of one call that retries up to ``m`` times when
  each attempt fails independently with probability ``q``: ``(1 - q**m) / (1 - q)``
  (``m`` when ``q = 1``).
* :func:`layered_calls`: calls that reach the bottom service of a stack in which every layer
  retries its call to the layer below (the product of :func:`attempts_per_call` over the
  layers); ``m**layers`` when the bottom service fails every call.
* :func:`storm_offered_load` and :func:`storm_sustains`: in a retry storm every attempt times
  out, so every request sends all ``m`` of its attempts and the offered load is ``m`` times
  the arrival rate. A storm can sustain itself once that exceeds the capacity, that is
  when the normal utilisation exceeds ``1 / m`` (:func:`storm_threshold_utilisation`).

Simulation
----------
:class:`SpikeScenario` is the service of lesson 02 (every value assumed, for teaching): ten
workers, 100 ms of work per request, 60 % normal load, a short spike, a client timeout of
0.3 s. :func:`retry_setups` names the client and server policies the lesson compares, and
:func:`is_stuck` tells a run that recovered from one that did not.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from outage_kit.policies import (
    ExponentialBackoff,
    FixedDelay,
    NoRetry,
    RetryBudget,
    RetryPolicy,
    ServerPolicy,
)

__all__ = [
    "SpikeScenario",
    "attempts_per_call",
    "is_stuck",
    "layered_calls",
    "layered_calls_monte_carlo",
    "retry_setups",
    "storm_offered_load",
    "storm_sustains",
    "storm_threshold_utilisation",
]


def _check_attempts(max_attempts) -> int:
    if isinstance(max_attempts, bool) or int(max_attempts) != max_attempts or max_attempts < 1:
        raise ValueError(f"attempts must be a whole number >= 1, got {max_attempts!r}")
    return int(max_attempts)


def _check_probability(p) -> np.ndarray:
    q = np.asarray(p, dtype=np.float64)
    if q.size and (np.any(~np.isfinite(q)) or q.min() < 0 or q.max() > 1):
        raise ValueError(f"a failure probability must lie in [0, 1], got {p!r}")
    return q


def attempts_per_call(failure_probability, max_attempts: int):
    """Expected attempts of a call that retries until success, at most ``max_attempts`` times.

    Each attempt fails independently with probability ``q``; attempt ``k`` is sent if the
    ``k - 1`` before it failed, so the expectation is ``1 + q + ... + q**(m - 1)``.

    Parameters
    ----------
    failure_probability : float or array_like
        Probability ``q`` that one attempt fails, in [0, 1].
    max_attempts : int
        Attempts at most, the first included (>= 1).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> attempts_per_call(0.0, 4), attempts_per_call(1.0, 4), attempts_per_call(0.5, 4)
    (1.0, 4.0, 1.875)
    """
    m = _check_attempts(max_attempts)
    q = _check_probability(failure_probability)
    powers = q[..., None] ** np.arange(m)
    out = powers.sum(axis=-1)
    return float(out) if out.ndim == 0 else out


def layered_calls(failure_probability, attempts_per_layer: int, layers: int):
    """Expected calls reaching the bottom service per user action, when every layer retries.

    A user action calls layer 1; layer ``i`` calls layer ``i + 1``, and the last of the
    ``layers`` retrying layers calls the bottom service. Each layer makes up to
    ``attempts_per_layer`` attempts, stopping at the first success. Each call to the bottom
    service fails independently with probability ``p``. A call into the lowest retrying layer
    then fails with probability ``p**m``, one into the layer above with ``p**(m**2)``, and so
    on, so the expected number of bottom calls is the product over the layers of
    :func:`attempts_per_call` at those failure probabilities. When the bottom service fails
    every call (``p = 1``) it is ``m**layers``.

    Parameters
    ----------
    failure_probability : float or array_like
        Probability that one call to the bottom service fails, in [0, 1].
    attempts_per_layer : int
        Attempts per call at every layer (>= 1).
    layers : int
        Retrying layers above the bottom service (>= 1).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    Three layers of four attempts, over a service that fails every call:

    >>> layered_calls(1.0, 4, 3)
    64.0
    >>> round(layered_calls(0.5, 4, 3), 3)
    2.0
    """
    m = _check_attempts(attempts_per_layer)
    n = _check_attempts(layers)
    q = _check_probability(failure_probability)
    total = np.ones_like(q)
    fail = q
    for _ in range(n):
        total = total * attempts_per_call(fail, m)
        fail = fail**m
    return float(total) if np.ndim(total) == 0 else total


def layered_calls_monte_carlo(
    failure_probability: float,
    attempts_per_layer: int,
    layers: int,
    *,
    actions: int = 100_000,
    seed: int | None = 0,
) -> float:
    """Mean calls reaching the bottom service per user action, by simulating every call.

    The stochastic twin of :func:`layered_calls` (same model): each user action's calls are
    played out layer by layer with independent failures of the bottom service.

    Examples
    --------
    >>> layered_calls_monte_carlo(1.0, 4, 3, actions=10)
    64.0
    >>> round(layered_calls_monte_carlo(0.5, 4, 3, actions=200_000, seed=1), 1)
    2.0
    """
    m = _check_attempts(attempts_per_layer)
    n = _check_attempts(layers)
    p = float(_check_probability(failure_probability))
    rng = np.random.default_rng(seed)

    def call(level: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Bottom calls and success of ``count`` calls into ``level`` (0: the bottom)."""
        if level == 0:
            return np.ones(count), rng.random(count) >= p
        calls = np.zeros(count)
        succeeded = np.zeros(count, dtype=bool)
        for _ in range(m):
            pending = np.flatnonzero(~succeeded)
            if pending.size == 0:
                break
            sub_calls, sub_ok = call(level - 1, pending.size)
            calls[pending] += sub_calls
            succeeded[pending] = sub_ok
        return calls, succeeded

    calls, _ = call(n, int(actions))
    return float(calls.mean())


def storm_offered_load(arrival_rate_per_s, max_attempts: int):
    """Attempts per second offered in a retry storm: every request sends all its attempts.

    Examples
    --------
    >>> storm_offered_load(60.0, 4)
    240.0
    """
    rate = np.asarray(arrival_rate_per_s, dtype=np.float64)
    if rate.size and (np.any(~np.isfinite(rate)) or rate.min() < 0):
        raise ValueError(
            f"arrival_rate_per_s must be a finite rate >= 0, got {arrival_rate_per_s!r}"
        )
    out = rate * _check_attempts(max_attempts)
    return float(out) if out.ndim == 0 else out


def storm_threshold_utilisation(max_attempts: int) -> float:
    """Normal utilisation above which a retry storm can sustain itself: ``1 / max_attempts``.

    Below it, even if every attempt fails, the attempts offered (``m`` per request) fit in
    the capacity, so the queue drains and the storm dies out.

    Examples
    --------
    >>> storm_threshold_utilisation(4)
    0.25
    """
    return 1.0 / _check_attempts(max_attempts)


def storm_sustains(utilisation, max_attempts: int):
    """Whether a retry storm, once started, can keep a service overloaded: ``m * rho > 1``.

    Parameters
    ----------
    utilisation : float or array_like
        Normal utilisation rho (arrival rate over capacity, >= 0).
    max_attempts : int
        Attempts per request, the first included.

    Examples
    --------
    >>> storm_sustains([0.2, 0.3, 0.6], 4)
    array([False,  True,  True])
    """
    rho = np.asarray(utilisation, dtype=np.float64)
    if rho.size and (np.any(~np.isfinite(rho)) or rho.min() < 0):
        raise ValueError(f"utilisation must be a finite number >= 0, got {utilisation!r}")
    out = rho * _check_attempts(max_attempts) > 1.0
    return bool(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class SpikeScenario:
    """A service hit by a short spike of requests: the set-up of lesson 02 (values assumed).

    Attributes
    ----------
    workers : int
        Workers sharing one FIFO queue.
    mean_service_s, service_cv : float
        Mean and coefficient of variation of one request's work (gamma distributed).
    base_rate_per_s : float
        Normal arrival rate of new requests.
    spike_rate_per_s, spike_start_s, spike_duration_s : float
        The spike: its arrival rate, start and length.
    timeout_s : float
        Client timeout per attempt.
    horizon_s, bin_s : float
        Length of the run and width of its time bins.

    Examples
    --------
    >>> s = SpikeScenario()
    >>> s.capacity_per_s, s.utilisation, s.spike_end_s
    (100.0, 0.6, 30.0)
    >>> r = s.run(retry_setups(s)["no retries"], seed=0)
    >>> r.summary.n_requests > 7000
    True
    """

    workers: int = 10
    mean_service_s: float = 0.1
    service_cv: float = 0.5
    base_rate_per_s: float = 60.0
    spike_rate_per_s: float = 150.0
    spike_start_s: float = 20.0
    spike_duration_s: float = 10.0
    timeout_s: float = 0.3
    horizon_s: float = 120.0
    bin_s: float = 2.0

    @property
    def capacity_per_s(self) -> float:
        """Requests per second the workers complete when all are busy."""
        return round(self.workers / self.mean_service_s, 9)

    @property
    def utilisation(self) -> float:
        """Normal utilisation: the base arrival rate over the capacity."""
        return round(self.base_rate_per_s / self.capacity_per_s, 9)

    @property
    def spike_end_s(self) -> float:
        """When the spike ends."""
        return self.spike_start_s + self.spike_duration_s

    def replace(self, **changes) -> SpikeScenario:
        """A copy with some values changed."""
        return dataclasses.replace(self, **changes)

    def service(self):
        """The service-time distribution (:class:`~outage_kit.simulation.Service`)."""
        from outage_kit.simulation import Service

        return Service(self.mean_service_s, "gamma", cv=self.service_cv)

    def arrivals(self):
        """The arrival process (:class:`~outage_kit.simulation.Spike`)."""
        from outage_kit.simulation import Spike

        return Spike(
            self.base_rate_per_s,
            self.spike_rate_per_s,
            start_s=self.spike_start_s,
            duration_s=self.spike_duration_s,
        )

    def run(self, setup: tuple[RetryPolicy, ServerPolicy], seed: int = 0, **options):
        """Simulate the scenario under one client and server policy.

        Parameters
        ----------
        setup : (RetryPolicy, ServerPolicy)
            From :func:`retry_setups`.
        seed : int
            Randomness; runs with the same seed see the same first attempts.
        **options
            Passed to :func:`~outage_kit.simulation.simulate` (e.g. ``record_requests``).
        """
        from outage_kit.simulation import simulate

        retry, server_policy = setup
        return simulate(
            arrivals=self.arrivals(),
            service=self.service(),
            workers=self.workers,
            timeout_s=self.timeout_s,
            retry=retry,
            server_policy=server_policy,
            horizon_s=self.horizon_s,
            bin_s=self.bin_s,
            seed=seed,
            **options,
        )


#: Attempts per request in the lesson's retrying set-ups (three retries: the "bad" scenario
#: suggested for teaching, an assumption).
LESSON_ATTEMPTS = 4


def retry_setups(scenario: SpikeScenario | None = None) -> dict[str, tuple]:
    """The client and server policies lesson 02 compares, by name.

    * ``"no retries"``: a timed-out request fails.
    * ``"immediate retries"``: up to 4 attempts, each sent the moment the previous one
      timed out.
    * ``"backoff with jitter"``: up to 4 attempts, spaced by gRPC's connection backoff (1 s,
      times 1.6 per retry, jitter ±20 %).
    * ``"drop expired"``: immediate retries; the server skips requests whose client has
      already timed out.
    * ``"drop late work"``: immediate retries; the server skips requests that have waited so
      long that they could no longer finish within the timeout (a queue-wait limit of the
      timeout minus one mean service time).
    * ``"retry budget"``: immediate retries, but only while a shared budget allows (at most one
      retry per ten successes, after ten initial tokens).

    Returns
    -------
    dict
        Name to ``(RetryPolicy, ServerPolicy)``.

    Examples
    --------
    >>> setups = retry_setups(SpikeScenario())
    >>> list(setups)[:3]
    ['no retries', 'immediate retries', 'backoff with jitter']
    >>> setups["drop late work"][1].max_wait_s
    0.2
    """
    s = SpikeScenario() if scenario is None else scenario
    immediate = RetryPolicy(FixedDelay(0.0), max_attempts=LESSON_ATTEMPTS)
    late = round(s.timeout_s - s.mean_service_s, 9)
    if late <= 0:
        raise ValueError(
            f"the timeout ({s.timeout_s} s) must exceed the mean service time "
            f"({s.mean_service_s} s) for the 'drop late work' set-up"
        )
    return {
        "no retries": (NoRetry(), ServerPolicy()),
        "immediate retries": (immediate, ServerPolicy()),
        "backoff with jitter": (
            RetryPolicy(ExponentialBackoff.grpc(), max_attempts=LESSON_ATTEMPTS),
            ServerPolicy(),
        ),
        "drop expired": (immediate, ServerPolicy(drop_expired=True)),
        "drop late work": (immediate, ServerPolicy(max_wait_s=late)),
        "retry budget": (
            RetryPolicy(FixedDelay(0.0), max_attempts=LESSON_ATTEMPTS, budget=RetryBudget()),
            ServerPolicy(),
        ),
    }


def is_stuck(result, window_s: float = 20.0, share: float = 0.5) -> bool:
    """Whether a run ended stuck: goodput over its last ``window_s`` below ``share`` of arrivals.

    Parameters
    ----------
    result : SimulationResult
        A run of :func:`~outage_kit.simulation.simulate`.
    window_s : float
        Length of the final window (> 0, at most the run's horizon).
    share : float
        Goodput, as a share of the new requests arriving in the window, below which the run
        counts as stuck.

    Examples
    --------
    >>> s = SpikeScenario(horizon_s=60.0)
    >>> setups = retry_setups(s)
    >>> is_stuck(s.run(setups["no retries"])), is_stuck(s.run(setups["immediate retries"]))
    (False, True)
    """
    if not (0 < window_s <= result.horizon_s) or math.isnan(window_s):
        raise ValueError(f"window_s must lie in (0, {result.horizon_s}], got {window_s!r}")
    counts = result.counts
    end = counts.iloc[-1]
    start_time = result.horizon_s - window_s
    before = counts[counts.time_s <= start_time + 1e-9].iloc[-1]
    arrived = end.requests - before.requests
    succeeded = end.attempts_succeeded - before.attempts_succeeded
    return bool(succeeded < share * arrived)
