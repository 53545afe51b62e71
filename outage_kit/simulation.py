"""Request-level simulation of a service under load: workers, a FIFO queue, timeouts, retries.

The model
---------
* **Server**: ``workers`` identical workers serve one FIFO queue, optionally bounded
  (``queue_capacity`` waiting attempts at most, not counting those in service). Service
  times are i.i.d. (:class:`Service`: exponential, deterministic, lognormal or gamma), or
  given explicitly (``service_s=``), and may grow with load (``slowdown_per_request``).
* **Arrivals**: new user requests arrive as a Poisson process, constant or time-varying
  (:class:`ConstantRate`, :class:`Spike`, :class:`Ramp`, :class:`RateFunction`), during
  ``[0, horizon_s)``, or at explicit times (``interarrival_s=``).
* **Clients**: each request is sent as **attempt** 1 at its arrival time. If
  ``timeout_s`` is set, the client waits at most ``timeout_s`` for the response (from the
  attempt's arrival at the server; network delay is zero). A client that times out stops
  waiting, but the attempt stays in the server, which still does the work when the attempt
  reaches a worker (**zombie work**), unless the server policy drops expired attempts (see
  :class:`~outage_kit.policies.ServerPolicy`). Timed-out and rejected attempts are retried
  according to the client's :class:`~outage_kit.policies.RetryPolicy` (maximum attempts,
  backoff, optional retry budget and circuit breaker).
* **Horizon**: no new request arrives after ``horizon_s``; the simulation then runs on until
  every request has an outcome (so every attempt's fate is known), and the time series cover
  ``[0, horizon_s]``.

Definitions (what the counts and time series mean)
--------------------------------------------------
request
    A user request: it succeeds (one of its attempts got a response within the timeout) or
    fails (its last allowed attempt failed, the retry budget was empty, or the circuit
    breaker was open when an attempt was due).
attempt
    One sending of a request to the server (attempt 1, then retries). An attempt blocked by
    an open circuit breaker is never sent and is not an attempt.
completed (succeeded)
    An attempt whose service ended no later than its client's deadline
    ``arrival + timeout_s``: the client got its response. This is **goodput**.
abandoned (timed out)
    An attempt whose client stopped waiting at its deadline.
rejected
    An attempt refused at arrival (queue full, admission control): the client learns at
    once, and the server spends nothing on it.
served / dropped
    Server-side fates of an admitted attempt: it was served (the worker did the work, even
    if its client had gone), or dropped unserved when a worker reached it: because its client
    had timed out (``drop_expired``) or because it had waited the server's ``max_wait_s``
    (see :class:`~outage_kit.policies.ServerPolicy`).
zombie work, wasted work
    Service of an attempt whose client timed out before the service ended: the response
    reaches nobody, so all of its server-seconds are **wasted work**.

Conservation, at every time ``t`` (asserted at every bin boundary in the tests; all counts
are cumulative up to and including ``t``, see :attr:`SimulationResult.counts`)::

    attempts = attempts_succeeded + attempts_abandoned + attempts_rejected + attempts_waiting
    attempts = served + dropped + attempts_rejected + queue_length + in_service
    requests = requests_succeeded + requests_failed + requests_waiting + requests_backing_off

The first is the client's view ("arrivals = completed + abandoned + rejected + in system",
in system = still awaited by its client), the second the server's (an abandoned attempt may
still be in the server), the third the user's. The snapshot terms (``*_waiting``,
``queue_length``, ``in_service``, ``requests_backing_off``) are tracked by the event loop
itself, independently of the cumulative counts.

Engines
-------
Without anything that makes the server depend on the clients (no retries that can happen,
no rejection, no dropping, no slowdown, no circuit breaker), the FIFO waiting times follow
the Kiefer–Wolfowitz recursion over a heap of worker free times (``engine="recursion"``);
timeouts are then classified afterwards. Everything else runs an event loop with a heap
(``engine="event"``). Both are plain Python loops compiled with numba when it is installed
(lazily, on first use, cached on disk) and run as plain Python otherwise; set the environment
variable ``OUTAGE_KIT_DISABLE_NUMBA=1`` or pass ``use_numba=False`` to force plain Python.
Results are identical either way.

Randomness
----------
All randomness comes from one ``numpy.random.Generator`` (``seed=`` an int or a Generator),
drawn in a fixed order: arrival times; then service times for attempt 1 of every request,
then for attempt 2, and so on; then the backoff uniforms. So the same seed gives identical
results, and runs that differ only in retry policy or timeout see the same requests with the
same first-attempt service times (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from outage_kit import _sim_kernel as kern
from outage_kit.policies import (
    KIND_DECORRELATED,
    AdmissionControl,
    NoRetry,
    RetryPolicy,
    ServerPolicy,
)

__all__ = [
    "Arrivals",
    "ConstantRate",
    "Ramp",
    "RateFunction",
    "Service",
    "SimulationResult",
    "SimulationSummary",
    "Spike",
    "simulate",
]

DISTRIBUTIONS = ("exponential", "deterministic", "lognormal", "gamma")
LINEAR_SCAN_MAX_WORKERS = 24  # compiled recursion: scan the workers below this, else a heap
ENGINES = ("auto", "recursion", "event")


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite rate >= 0 (requests per second), got {value!r}")
    return value


def _check_time(name: str, value: float, *, positive: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite time in seconds {bound}, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# Arrivals
# --------------------------------------------------------------------------------------------


class Arrivals:
    """Base class of arrival processes: a Poisson process with rate ``rate_at(t)`` per second.

    Subclasses give the rate function and an upper bound ``peak_rate_per_s``; arrival times
    are drawn by thinning (Lewis and Shedler, 1979): candidates from a Poisson process at
    ``peak_rate_per_s`` (cumulative sums of exponential gaps), each kept with probability
    ``rate_at(t) / peak_rate_per_s``. A constant rate needs no thinning.

    Examples
    --------
    >>> times = ConstantRate(10.0).arrival_times_s(horizon_s=100.0, rng=1)
    >>> len(times), bool(np.all(np.diff(times) > 0)), bool(times[-1] < 100.0)
    (991, True, True)
    """

    _is_constant = False

    @property
    def peak_rate_per_s(self) -> float:
        """An upper bound of the rate over all times."""
        raise NotImplementedError

    def rate_at(self, time_s) -> np.ndarray:
        """The arrival rate (per second) at each time, vectorised."""
        raise NotImplementedError

    def arrival_times_s(self, horizon_s: float, rng=None) -> np.ndarray:
        """Sorted arrival times in ``[0, horizon_s)``.

        Parameters
        ----------
        horizon_s : float
            End of the arrival window (> 0).
        rng : numpy.random.Generator or int or None
            Source of randomness.
        """
        horizon_s = _check_time("horizon_s", horizon_s, positive=True)
        rng = np.random.default_rng(rng)
        peak = self.peak_rate_per_s
        candidates = _poisson_times(peak, horizon_s, rng)
        if self._is_constant or candidates.size == 0:
            return candidates
        rate = np.asarray(self.rate_at(candidates), dtype=np.float64)
        if rate.shape != candidates.shape:
            raise ValueError("the rate function must return one rate per time (vectorised)")
        if np.any(~np.isfinite(rate)) or rate.min() < 0:
            raise ValueError("the rate function returned a negative or non-finite rate")
        if rate.max() > peak * (1 + 1e-12):
            raise ValueError(
                f"the rate function exceeds max_rate_per_s={peak!r} "
                f"(reached {rate.max()!r}); raise max_rate_per_s"
            )
        keep = rng.random(candidates.size) * peak < rate
        return candidates[keep]


def _poisson_times(rate_per_s: float, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted times of a homogeneous Poisson process on ``[0, horizon_s)``."""
    if rate_per_s == 0:
        return np.empty(0)
    mean = rate_per_s * horizon_s
    chunk = int(mean + 6.0 * math.sqrt(mean) + 16)
    pieces = []
    last = 0.0
    while last < horizon_s:
        times = np.cumsum(rng.exponential(1.0 / rate_per_s, chunk))
        if last:
            times += last
        pieces.append(times)
        last = times[-1]
    times = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return times[: np.searchsorted(times, horizon_s, side="left")]


@dataclass(frozen=True)
class ConstantRate(Arrivals):
    """Poisson arrivals at a constant rate.

    Parameters
    ----------
    rate_per_s : float
        Arrivals per second (>= 0).

    Examples
    --------
    >>> ConstantRate(2.5).rate_at([0.0, 10.0])
    array([2.5, 2.5])
    """

    rate_per_s: float

    _is_constant = True

    def __post_init__(self):
        object.__setattr__(self, "rate_per_s", _check_rate("rate_per_s", self.rate_per_s))

    @property
    def peak_rate_per_s(self):
        """The rate."""
        return self.rate_per_s

    def rate_at(self, time_s):
        """The constant rate at every time."""
        return np.full(np.shape(time_s), self.rate_per_s)


@dataclass(frozen=True)
class Spike(Arrivals):
    """Poisson arrivals at a base rate with a rectangular spike (a storm in miniature).

    The rate is ``spike_rate_per_s`` on ``[start_s, start_s + duration_s)`` and
    ``base_rate_per_s`` elsewhere.

    Parameters
    ----------
    base_rate_per_s, spike_rate_per_s : float
        Rates outside and inside the spike (>= 0).
    start_s, duration_s : float
        Start and length of the spike (>= 0).

    Examples
    --------
    >>> Spike(5.0, 20.0, start_s=10.0, duration_s=5.0).rate_at([0, 12, 15])
    array([ 5., 20.,  5.])
    """

    base_rate_per_s: float
    spike_rate_per_s: float
    start_s: float
    duration_s: float

    def __post_init__(self):
        for name in ("base_rate_per_s", "spike_rate_per_s"):
            object.__setattr__(self, name, _check_rate(name, getattr(self, name)))
        for name in ("start_s", "duration_s"):
            object.__setattr__(self, name, _check_time(name, getattr(self, name)))

    @property
    def peak_rate_per_s(self):
        """The larger of the two rates."""
        return max(self.base_rate_per_s, self.spike_rate_per_s)

    def rate_at(self, time_s):
        """``spike_rate_per_s`` inside the spike, ``base_rate_per_s`` outside."""
        t = np.asarray(time_s, dtype=np.float64)
        inside = (t >= self.start_s) & (t < self.start_s + self.duration_s)
        return np.where(inside, self.spike_rate_per_s, self.base_rate_per_s)


@dataclass(frozen=True)
class Ramp(Arrivals):
    """Poisson arrivals whose rate changes linearly between two times.

    The rate is ``start_rate_per_s`` before ``start_s``, ``end_rate_per_s`` after ``end_s``
    and linear in between.

    Parameters
    ----------
    start_rate_per_s, end_rate_per_s : float
        Rates at the two ends (>= 0).
    start_s, end_s : float
        Times the ramp starts and ends (``0 <= start_s < end_s``).

    Examples
    --------
    >>> Ramp(0.0, 10.0, start_s=0.0, end_s=10.0).rate_at([0, 5, 20])
    array([ 0.,  5., 10.])
    """

    start_rate_per_s: float
    end_rate_per_s: float
    start_s: float
    end_s: float

    def __post_init__(self):
        for name in ("start_rate_per_s", "end_rate_per_s"):
            object.__setattr__(self, name, _check_rate(name, getattr(self, name)))
        for name in ("start_s", "end_s"):
            object.__setattr__(self, name, _check_time(name, getattr(self, name)))
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s!r}) must be > start_s ({self.start_s!r})")

    @property
    def peak_rate_per_s(self):
        """The larger of the two end rates."""
        return max(self.start_rate_per_s, self.end_rate_per_s)

    def rate_at(self, time_s):
        """Linear interpolation between the end rates, constant outside."""
        t = np.asarray(time_s, dtype=np.float64)
        return np.interp(
            t, [self.start_s, self.end_s], [self.start_rate_per_s, self.end_rate_per_s]
        )


@dataclass(frozen=True)
class RateFunction(Arrivals):
    """Poisson arrivals with any rate function (vectorised) and an upper bound of it.

    Parameters
    ----------
    function : callable
        ``function(times_s: ndarray) -> ndarray`` of rates per second (>= 0).
    max_rate_per_s : float
        An upper bound of the function; a ``ValueError`` is raised if a drawn time exceeds it.

    Examples
    --------
    >>> f = RateFunction(lambda t: 5.0 + 5.0 * np.sin(2 * np.pi * t / 60.0) ** 2, 10.0)
    >>> f.rate_at([0.0, 15.0])
    array([ 5., 10.])
    """

    function: Callable[[np.ndarray], np.ndarray]
    max_rate_per_s: float

    def __post_init__(self):
        if not callable(self.function):
            raise TypeError(f"function must be callable, got {self.function!r}")
        rate = _check_rate("max_rate_per_s", self.max_rate_per_s)
        object.__setattr__(self, "max_rate_per_s", rate)

    @property
    def peak_rate_per_s(self):
        """The stated upper bound ``max_rate_per_s``."""
        return self.max_rate_per_s

    def rate_at(self, time_s):
        """``function(time_s)``."""
        return np.asarray(self.function(np.asarray(time_s, dtype=np.float64)), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Service
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """Service-time distribution of one attempt, with optional slowdown under load.

    Parameters
    ----------
    mean_s : float
        Mean service time (> 0); the service rate is ``1 / mean_s``.
    distribution : {"exponential", "deterministic", "lognormal", "gamma"}
        Shape of the distribution.
    cv : float or None
        Coefficient of variation (std / mean) for "lognormal" and "gamma" (default 1;
        must be > 0). Exponential has cv 1 and deterministic cv 0 by definition.
    slowdown_per_request : float
        Load-dependent slowdown (>= 0): an attempt that starts service while ``k`` attempts
        are in the server (queued or in service, itself included, zombies too) takes
        ``1 + slowdown_per_request * max(0, k - slowdown_onset)`` times its drawn service
        time (contention, memory pressure, lock convoys). 0 disables it.
    slowdown_onset : int or None
        Concurrency from which the slowdown starts (default: the number of workers).

    Examples
    --------
    >>> Service(0.1, "deterministic").sample_s(3)
    array([0.1, 0.1, 0.1])
    >>> x = Service(2.0, "gamma", cv=0.5).sample_s(100_000, rng=0)
    >>> round(float(x.mean()), 1), round(float(x.std() / x.mean()), 1)
    (2.0, 0.5)
    >>> Service(1.0, "weibull")
    Traceback (most recent call last):
    ...
    ValueError: unknown distribution 'weibull'; use exponential, deterministic, lognormal or gamma
    """

    mean_s: float
    distribution: str = "exponential"
    cv: float | None = None
    slowdown_per_request: float = 0.0
    slowdown_onset: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "mean_s", _check_time("mean_s", self.mean_s, positive=True))
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"unknown distribution {self.distribution!r}; "
                "use exponential, deterministic, lognormal or gamma"
            )
        if self.cv is not None:
            cv = float(self.cv)
            if self.distribution in ("exponential", "deterministic"):
                raise ValueError(
                    f"cv applies to lognormal and gamma only ({self.distribution} fixes it)"
                )
            if not math.isfinite(cv) or cv <= 0:
                raise ValueError(f"cv must be a finite number > 0, got {cv!r}")
            object.__setattr__(self, "cv", cv)
        slowdown = float(self.slowdown_per_request)
        if not math.isfinite(slowdown) or slowdown < 0:
            raise ValueError(f"slowdown_per_request must be >= 0, got {slowdown!r}")
        object.__setattr__(self, "slowdown_per_request", slowdown)
        onset = self.slowdown_onset
        if onset is not None and (isinstance(onset, bool) or int(onset) != onset or onset < 0):
            raise ValueError(f"slowdown_onset must be a whole number >= 0, got {onset!r}")

    @property
    def rate_per_s(self) -> float:
        """Service rate of one worker, ``1 / mean_s``."""
        return 1.0 / self.mean_s

    def sample_s(self, size, rng=None) -> np.ndarray:
        """Draw service times (before any slowdown).

        Parameters
        ----------
        size : int or tuple of int
            Output shape (filled in C order, so the first rows are the same whatever the
            number of rows).
        rng : numpy.random.Generator or int or None
            Source of randomness.
        """
        rng = np.random.default_rng(rng)
        mean = self.mean_s
        if self.distribution == "exponential":
            return rng.exponential(mean, size)
        if self.distribution == "deterministic":
            return np.full(size, mean)
        cv = 1.0 if self.cv is None else self.cv
        if self.distribution == "lognormal":
            sigma2 = math.log1p(cv * cv)
            return rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2), size)
        shape = 1.0 / (cv * cv)  # gamma
        return rng.gamma(shape, mean / shape, size)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationSummary:
    """Totals over the whole run (all requests, including the drain after ``horizon_s``).

    Attributes
    ----------
    n_requests, n_succeeded, n_failed : int
        User requests, and how many succeeded or failed.
    n_attempts, n_retries : int
        Attempts sent, and how many of them were retries.
    n_abandoned, n_rejected, n_dropped, n_short_circuited : int
        Attempts that timed out, were rejected, or were dropped unserved; requests failed by
        an open circuit breaker.
    success_fraction : float
        ``n_succeeded / n_requests`` (nan without requests).
    attempts_per_request : float
        ``n_attempts / n_requests``: the load amplification by retries.
    mean_wait_s, p95_wait_s, mean_response_s : float
        Queue wait and response time (wait + service) of served attempts.
    busy_work_s, wasted_work_s : float
        Server-seconds of service, and of zombie service (client gone).
    wasted_fraction : float
        ``wasted_work_s / busy_work_s``.
    end_s : float
        Time of the last event.

    Examples
    --------
    >>> s = simulate(arrivals=5.0, service=1.0, workers=10, horizon_s=1_000.0, seed=3,
    ...              timeout_s=2.0).summary
    >>> s.n_requests == s.n_succeeded + s.n_failed, round(s.success_fraction, 2)
    (True, 0.86)
    """

    n_requests: int
    n_succeeded: int
    n_failed: int
    n_attempts: int
    n_retries: int
    n_abandoned: int
    n_rejected: int
    n_dropped: int
    n_short_circuited: int
    success_fraction: float
    attempts_per_request: float
    mean_wait_s: float
    p95_wait_s: float
    mean_response_s: float
    busy_work_s: float
    wasted_work_s: float
    wasted_fraction: float
    end_s: float


CLIENT_OUTCOMES = ("success", "timeout", "rejected")
SERVER_OUTCOMES = ("served", "dropped", "rejected")
REQUEST_OUTCOMES = ("succeeded", "exhausted", "no_budget", "short_circuited")


class SimulationResult:
    """What :func:`simulate` returns: per-attempt data and the views computed from it.

    The views are computed on first access and cached:

    * :attr:`timeseries` -- one row per time bin (``bin_s``), wide, with a ``time_s`` column
      (bin start), ready for altair. :meth:`binned` gives another bin width.
    * :attr:`counts` -- cumulative counts and snapshots at every bin boundary
      (the conservation identities of the module docstring hold on every row).
    * :attr:`summary` -- a :class:`SimulationSummary`.
    * :attr:`attempts`, :attr:`requests` -- per-attempt and per-request DataFrames, if
      ``record_requests=True`` was passed (else None).

    The result keeps the per-attempt arrays the views are computed from (about 50 bytes per
    attempt), so computing views is deferred until they are used; the event loop reserves
    ``requests * max_attempts`` attempt slots while it runs.

    Attributes
    ----------
    engine : str
        "recursion" or "event".
    accelerated : bool
        Whether the kernel ran compiled by numba.
    horizon_s, bin_s : float
        The arrival window and the default bin width.
    workers : int
        Number of workers.

    Examples
    --------
    >>> r = simulate(arrivals=8.0, service=Service(0.1), workers=1, horizon_s=100.0, seed=1)
    >>> r.engine, r.summary.n_requests, round(r.summary.mean_wait_s, 2)
    ('recursion', 786, 0.29)
    >>> list(r.timeseries.columns[:4])
    ['time_s', 'arrival_rate_per_s', 'offered_rate_per_s', 'retry_rate_per_s']
    """

    def __init__(self, run: dict, *, record_requests: bool):
        self._raw = run
        self.engine: str = run["engine"]
        self.accelerated: bool = run["accelerated"]
        self.horizon_s: float = run["horizon_s"]
        self.bin_s: float = run["bin_s"]
        self.workers: int = run["workers"]
        self._record_requests = record_requests

    @cached_property
    def _run(self) -> dict:
        """The per-attempt arrays (a recursion run's are derived on first use)."""
        if self._raw["engine"] == "recursion":
            _complete_recursion_run(self._raw)
        return self._raw

    def __repr__(self):
        s = self.summary
        return (
            f"SimulationResult(engine={self.engine!r}, requests={s.n_requests}, "
            f"attempts={s.n_attempts}, success_fraction={s.success_fraction:.3f})"
        )

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """Time series at the default ``bin_s`` (see :meth:`binned`)."""
        return self.binned(self.bin_s)

    def binned(self, bin_s: float) -> pd.DataFrame:
        """Time series over ``[0, horizon_s]`` in bins of ``bin_s`` seconds (the last may be short).

        Columns (rates are per second of the bin; events are binned by their time, so the
        counts per bin match :attr:`counts`):

        ``time_s``
            Start of the bin.
        ``arrival_rate_per_s``
            New user requests.
        ``offered_rate_per_s``, ``retry_rate_per_s``
            Attempts reaching the server (offered load), and those that are retries.
        ``accepted_rate_per_s``, ``rejected_rate_per_s``
            Attempts admitted to the queue (accepted load) or rejected.
        ``throughput_per_s``, ``goodput_per_s``
            Services ended; attempts completed within their client's timeout.
        ``timeout_rate_per_s``, ``dropped_rate_per_s``, ``failure_rate_per_s``
            Attempts abandoned by their client; dropped unserved; requests failed.
        ``queue_length``, ``utilisation``
            Time-averaged number of attempts waiting; fraction of workers busy.
        ``busy_work_s``, ``wasted_work_s``
            Server-seconds of service in the bin, and of zombie service.
        ``latency_p50_s``, ``latency_p95_s``, ``latency_p99_s``
            Percentiles of the response time (arrival to end of service) of served attempts
            that arrived in the bin (nan if none).

        Examples
        --------
        >>> r = simulate(arrivals=8.0, service=0.1, horizon_s=100.0, seed=1)
        >>> ts = r.binned(50.0)
        >>> ts[["time_s", "arrival_rate_per_s", "utilisation"]].round(2)
           time_s  arrival_rate_per_s  utilisation
        0     0.0                8.16         0.81
        1    50.0                7.56         0.77
        """
        bin_s = _check_time("bin_s", bin_s, positive=True)
        return _timeseries(self._run, _bin_edges(self.horizon_s, bin_s))

    @cached_property
    def counts(self) -> pd.DataFrame:
        """Cumulative counts (events at times <= ``time_s``) and snapshots at bin boundaries.

        Columns: ``time_s``; ``requests``, ``requests_succeeded``, ``requests_failed``,
        ``requests_waiting`` (current attempt awaited), ``requests_backing_off`` (waiting to
        retry); ``attempts``, ``attempts_succeeded``, ``attempts_abandoned``,
        ``attempts_rejected``, ``attempts_waiting``; ``served``, ``dropped``,
        ``queue_length``, ``in_service``. See the module docstring for the identities.

        Examples
        --------
        >>> c = simulate(arrivals=8.0, service=0.1, horizon_s=100.0, seed=1).counts
        >>> row = c.iloc[-1]
        >>> bool(row.attempts == row.served + row.attempts_rejected + row.dropped
        ...      + row.queue_length + row.in_service)
        True
        """
        return _counts(self._run, _bin_edges(self.horizon_s, self.bin_s))

    @cached_property
    def summary(self) -> SimulationSummary:
        """Totals over the whole run (see :class:`SimulationSummary`)."""
        return _summary(self._run)

    @cached_property
    def attempts(self) -> pd.DataFrame | None:
        """One row per attempt sent (None unless ``record_requests=True``).

        Columns: ``request_id``, ``attempt`` (1 = first), ``arrival_s``, ``wait_s`` (queue
        wait until service start or drop; nan if rejected), ``service_s``, ``end_s`` (end of
        service; nan unless served), ``response_s`` (``end_s - arrival_s``),
        ``client_outcome`` ("success", "timeout", "rejected"), ``server_outcome``
        ("served", "dropped", "rejected"), ``zombie`` (served after its client had gone).

        Examples
        --------
        >>> r = simulate(interarrival_s=[1.0, 0.5], service_s=[2.0, 1.0], timeout_s=2.0,
        ...              record_requests=True)
        >>> r.attempts[["arrival_s", "wait_s", "end_s", "client_outcome", "zombie"]]
           arrival_s  wait_s  end_s client_outcome  zombie
        0        1.0     0.0    3.0        success   False
        1        1.5     1.5    4.0        timeout    True
        """
        if not self._record_requests:
            return None
        return _attempts_frame(self._run)

    @cached_property
    def requests(self) -> pd.DataFrame | None:
        """One row per user request (None unless ``record_requests=True``).

        Columns: ``request_id``, ``arrival_s``, ``attempts`` (sent), ``outcome``
        ("succeeded", "exhausted", "no_budget", "short_circuited"), ``end_s`` (time of
        success or failure), ``latency_s`` (``end_s - arrival_s``).

        Examples
        --------
        >>> r = simulate(interarrival_s=[1.0, 0.5], service_s=[2.0, 1.0], timeout_s=2.0,
        ...              record_requests=True)
        >>> r.requests[["arrival_s", "attempts", "outcome", "latency_s"]]
           arrival_s  attempts    outcome  latency_s
        0        1.0         1  succeeded        2.0
        1        1.5         1  exhausted        2.0
        """
        if not self._record_requests:
            return None
        run = self._run
        arrival = run["request_arrival_s"]
        outcome = run["request_outcome"].astype(np.int64) - 1
        return pd.DataFrame(
            {
                "request_id": np.arange(arrival.size),
                "arrival_s": arrival,
                "attempts": run["request_attempts"],
                "outcome": pd.Categorical.from_codes(outcome, REQUEST_OUTCOMES),
                "end_s": run["request_end_s"],
                "latency_s": run["request_end_s"] - arrival,
            }
        )


# --------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------


def simulate(
    arrivals: Arrivals | float | None = None,
    service: Service | float | None = None,
    workers: int = 1,
    *,
    queue_capacity: int | None = None,
    timeout_s: float | None = None,
    retry: RetryPolicy | None = None,
    server_policy: ServerPolicy | None = None,
    horizon_s: float | None = None,
    seed: int | np.random.Generator | None = None,
    bin_s: float | None = None,
    record_requests: bool = False,
    interarrival_s=None,
    service_s=None,
    engine: str = "auto",
    use_numba: bool | None = None,
) -> SimulationResult:
    """Simulate a service with ``workers`` workers, a FIFO queue, timeouts and retries.

    See the module docstring for the model and the precise meaning of every count.

    Parameters
    ----------
    arrivals : Arrivals or float
        Arrival process of new requests; a number means :class:`ConstantRate` (per second).
        Give either this or ``interarrival_s``.
    service : Service or float
        Service-time distribution; a number means exponential with that mean (seconds).
        Give either this or ``service_s``.
    workers : int
        Number of workers c (>= 1).
    queue_capacity : int or None
        Most attempts that may wait (not counting those in service); an attempt arriving to
        a full queue is rejected. None: unbounded.
    timeout_s : float or None
        Client timeout per attempt (> 0). None: clients wait forever.
    retry : RetryPolicy or None
        Client retry policy (default :class:`~outage_kit.policies.NoRetry`).
    server_policy : ServerPolicy or None
        Admission control and dropping of expired attempts (default: neither).
    horizon_s : float or None
        New requests arrive during ``[0, horizon_s)`` (> 0). Required with ``arrivals``;
        with ``interarrival_s`` it defaults to the last arrival and arrivals after it are
        ignored.
    seed : int or numpy.random.Generator or None
        Randomness; the same seed gives identical results.
    bin_s : float or None
        Default bin width of :attr:`SimulationResult.timeseries` (default ``horizon_s / 100``).
    record_requests : bool
        Offer per-attempt and per-request DataFrames (``result.attempts``,
        ``result.requests``).
    interarrival_s : array_like or None
        Explicit gaps between arrivals (>= 0); the first arrival is at ``interarrival_s[0]``.
    service_s : array_like or None
        Explicit service times (>= 0): 1-D, one per request (every attempt of request ``i``
        takes ``service_s[i]``), or 2-D with shape ``(n_requests, max_attempts)``.
    engine : {"auto", "recursion", "event"}
        "auto" picks the Kiefer–Wolfowitz recursion when the model allows it, else the event
        loop; "recursion" raises if the model needs the event loop.
    use_numba : bool or None
        Compile the kernel with numba (None: if installed and ``OUTAGE_KIT_DISABLE_NUMBA`` is
        unset). ``True`` without numba raises ``ImportError``.

    Returns
    -------
    SimulationResult

    Examples
    --------
    An M/M/2 queue at utilisation 0.9 (Erlang C: mean wait 8.53 s):

    >>> r = simulate(arrivals=0.9, service=Service(mean_s=2.0), workers=2,
    ...              horizon_s=20_000.0, seed=42)
    >>> round(r.summary.mean_wait_s, 1)
    8.4

    The same load with a 5 s timeout and three immediate retries: more attempts, zombie work.

    >>> from outage_kit.policies import RetryPolicy, FixedDelay
    >>> r = simulate(arrivals=0.9, service=2.0, workers=2, horizon_s=20_000.0, seed=42,
    ...              timeout_s=5.0, retry=RetryPolicy(FixedDelay(0.0), max_attempts=3))
    >>> s = r.summary
    >>> s.attempts_per_request > 1.5, s.wasted_fraction > 0.3, s.success_fraction < 0.5
    (True, True, True)
    """
    retry = NoRetry() if retry is None else retry
    server_policy = ServerPolicy() if server_policy is None else server_policy
    if not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy (e.g. NoRetry()), got {retry!r}")
    if not isinstance(server_policy, ServerPolicy):
        raise TypeError(f"server_policy must be a ServerPolicy, got {server_policy!r}")
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    workers = int(workers)
    if queue_capacity is not None:
        q = queue_capacity
        if isinstance(q, bool) or int(q) != q or q < 0:
            raise ValueError(f"queue_capacity must be a whole number >= 0 or None, got {q!r}")
        queue_capacity = int(q)
    if timeout_s is not None:
        t = float(timeout_s)
        if not t > 0 or math.isnan(t):
            raise ValueError(
                f"timeout_s must be > 0 seconds (or None for no timeout), got {timeout_s!r}"
            )
        timeout_s = t
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if use_numba is None:
        use_numba = kern.numba_available()
    elif use_numba and not kern.numba_available():
        raise ImportError("use_numba=True but numba is not installed (or is disabled)")

    rng = np.random.default_rng(seed)
    arrival_s, horizon_s = _arrival_times(arrivals, interarrival_s, horizon_s, rng)
    if bin_s is None:
        bin_s = horizon_s / 100.0
    bin_s = _check_time("bin_s", bin_s, positive=True)
    if horizon_s / bin_s > 1e6:
        raise ValueError(f"bin_s={bin_s!r} makes more than a million bins; choose a larger one")
    max_attempts = retry.max_attempts
    service_cfg, service_table = _service_times(
        service, service_s, arrival_s.size, max_attempts, rng
    )

    timeout = math.inf if timeout_s is None else timeout_s
    slowdown = service_cfg.slowdown_per_request if service_cfg is not None else 0.0
    admission = server_policy.admission
    can_recurse = (
        queue_capacity is None
        and admission is None
        and slowdown == 0.0
        and retry.circuit_breaker is None
        and (max_attempts == 1 or timeout_s is None)
        and math.isinf(server_policy.drop_wait_s(timeout_s))
    )
    if engine == "recursion" and not can_recurse:
        raise ValueError(
            "engine='recursion' needs a model where the server ignores the clients: no "
            "queue_capacity, admission control, slowdown, circuit breaker, retries with "
            "timeouts, or dropping of queued requests (drop_expired with a timeout, "
            "max_wait_s); use engine='event' or 'auto'"
        )
    use_recursion = can_recurse and engine != "event"

    run = {
        "engine": "recursion" if use_recursion else "event",
        "accelerated": bool(use_numba),
        "horizon_s": horizon_s,
        "bin_s": bin_s,
        "workers": workers,
        "timeout_s": timeout,
        "max_attempts": max_attempts if not use_recursion else 1,
    }
    if use_recursion:
        _run_recursion(run, arrival_s, service_table[:, 0], workers, timeout, use_numba)
    else:
        backoff_u = rng.random((max(max_attempts - 1, 1), arrival_s.size)).T
        _run_events(
            run,
            arrival_s,
            service_table,
            backoff_u,
            workers=workers,
            queue_capacity=queue_capacity,
            timeout_s=timeout,
            retry=retry,
            server_policy=server_policy,
            slowdown=slowdown,
            slowdown_onset=_slowdown_onset(service_cfg, workers),
            use_numba=use_numba,
        )
    return SimulationResult(run, record_requests=record_requests)


def _slowdown_onset(service_cfg: Service | None, workers: int) -> int:
    if service_cfg is None or service_cfg.slowdown_onset is None:
        return workers
    return int(service_cfg.slowdown_onset)


def _arrival_times(arrivals, interarrival_s, horizon_s, rng):
    """Sorted arrival times and the horizon."""
    if (arrivals is None) == (interarrival_s is None):
        raise ValueError("give exactly one of arrivals= (a process or rate) or interarrival_s=")
    if interarrival_s is not None:
        gaps = np.asarray(interarrival_s, dtype=np.float64)
        if gaps.ndim != 1:
            raise ValueError("interarrival_s must be one-dimensional")
        if gaps.size and (not np.all(np.isfinite(gaps)) or gaps.min() < 0):
            raise ValueError("interarrival_s must hold finite gaps >= 0 seconds")
        times = np.cumsum(gaps)
        if horizon_s is None:
            if times.size == 0 or times[-1] <= 0:
                raise ValueError("horizon_s is needed when the explicit arrivals end at time 0")
            horizon_s = float(times[-1])
        horizon_s = _check_time("horizon_s", horizon_s, positive=True)
        return times[: np.searchsorted(times, horizon_s, side="right")], horizon_s
    if horizon_s is None:
        raise ValueError("horizon_s is required with arrivals= (the arrival window, seconds)")
    horizon_s = _check_time("horizon_s", horizon_s, positive=True)
    if not isinstance(arrivals, Arrivals):
        if isinstance(arrivals, bool) or not isinstance(arrivals, int | float | np.number):
            raise TypeError(f"arrivals must be an Arrivals process or a rate, got {arrivals!r}")
        arrivals = ConstantRate(_check_rate("arrivals", arrivals))
    return arrivals.arrival_times_s(horizon_s, rng), horizon_s


def _service_times(service, service_s, n_requests, max_attempts, rng):
    """(Service config or None, service-time table of shape (n_requests, max_attempts))."""
    if (service is None) == (service_s is None):
        raise ValueError("give exactly one of service= (a Service or mean) or service_s=")
    if service_s is not None:
        table = np.asarray(service_s, dtype=np.float64)
        if table.size and (not np.all(np.isfinite(table)) or table.min() < 0):
            raise ValueError("service_s must hold finite service times >= 0 seconds")
        if table.ndim == 1:
            if table.size < n_requests:
                raise ValueError(
                    f"service_s has {table.size} values for {n_requests} requests; need one each"
                )
            table = np.repeat(table[:n_requests, None], max_attempts, axis=1)
        elif table.ndim == 2:
            if table.shape[0] < n_requests or table.shape[1] < max_attempts:
                raise ValueError(
                    f"service_s has shape {table.shape}; need at least "
                    f"({n_requests}, {max_attempts}) (requests, max_attempts)"
                )
            table = table[:n_requests, :max_attempts]
        else:
            raise ValueError("service_s must be 1-D (per request) or 2-D (per attempt)")
        return None, np.ascontiguousarray(table)
    if not isinstance(service, Service):
        if isinstance(service, bool) or not isinstance(service, int | float | np.number):
            raise TypeError(f"service must be a Service or a mean time, got {service!r}")
        service = Service(float(service))
    # Attempt 1 of every request first, then attempt 2, ...: common random numbers.
    table = service.sample_s((max_attempts, n_requests), rng).T
    return service, np.ascontiguousarray(table)


def _run_recursion(run, arrival_s, service_s, workers, timeout, use_numba):
    """FIFO G/G/c by the Kiefer–Wolfowitz recursion; the rest is derived lazily."""
    n = arrival_s.size
    kernel = kern.get_kernel("fifo_start_times", use_numba)
    if use_numba:
        start = np.empty(n)
        kernel(arrival_s, service_s, workers, workers <= LINEAR_SCAN_MAX_WORKERS, start)
    else:
        start_list = [0.0] * n
        kernel(arrival_s.tolist(), service_s.tolist(), workers, False, start_list)
        start = np.array(start_list, dtype=np.float64)
    run.update(att_arrival_s=arrival_s, att_dequeue_s=start, service_s=service_s, snapshots=None)


def _complete_recursion_run(run) -> None:
    """Fill in the per-attempt arrays of a recursion run (one attempt per request)."""
    if "att_client" in run:
        return
    arrival, start = run["att_arrival_s"], run["att_dequeue_s"]
    n = arrival.size
    end = start + run.pop("service_s")
    timeout = run["timeout_s"]
    if math.isinf(timeout):
        client = np.full(n, kern.CLIENT_SUCCESS, dtype=np.int8)
        request_end = end
    else:
        success = end <= arrival + timeout
        client = np.where(success, kern.CLIENT_SUCCESS, kern.CLIENT_TIMEOUT).astype(np.int8)
        request_end = np.where(success, end, arrival + timeout)
    run.update(
        att_request=np.arange(n),
        att_number=np.zeros(n, dtype=np.int64),
        att_end_s=end,
        att_client=client,
        att_server=np.full(n, kern.SERVER_SERVED, dtype=np.int8),
        request_arrival_s=arrival,
        request_outcome=np.where(
            client == kern.CLIENT_SUCCESS, kern.REQUEST_SUCCEEDED, kern.REQUEST_EXHAUSTED
        ).astype(np.int8),
        request_end_s=request_end,
        request_attempts=np.ones(n, dtype=np.int64),
    )


def _run_events(
    run,
    arrival_s,
    service_table,
    backoff_u,
    *,
    workers,
    queue_capacity,
    timeout_s,
    retry,
    server_policy,
    slowdown,
    slowdown_onset,
    use_numba,
):
    """Run the event loop and store its per-attempt arrays in ``run``."""
    n = arrival_s.size
    m = retry.max_attempts
    slots = n * m
    kind, base_s, cap_s, jitter = retry.backoff._kernel_params()
    # backoff_scale[k] = t_k for retry number k (index 0 unused).
    scale = np.zeros(m + 1)
    if m > 1:
        scale[1:m] = retry.backoff.scale_s(np.arange(1, m))
    # u for the delay after attempt k fails sits in slot k (attempt k+1 is retry number k).
    u_table = np.zeros((n, m))
    u_table[:, : m - 1] = backoff_u[:, : m - 1]
    budget = retry.budget
    breaker = retry.circuit_breaker
    admission = server_policy.admission or AdmissionControl()
    snapshot_s = _bin_edges(run["horizon_s"], run["bin_s"])
    previous = np.full(n, base_s if kind == KIND_DECORRELATED else 0.0)
    outputs = {
        "att_arrival_s": np.full(slots, np.nan),
        "att_dequeue_s": np.full(slots, np.nan),
        "att_end_s": np.full(slots, np.nan),
        "att_client": np.zeros(slots, dtype=np.int8),
        "att_server": np.zeros(slots, dtype=np.int8),
        "request_outcome": np.zeros(n, dtype=np.int8),
        "request_end_s": np.full(n, np.nan),
        "snapshots": np.zeros(snapshot_s.size * kern.N_SNAP, dtype=np.int64),
    }
    args = [
        arrival_s,
        service_table.reshape(-1),
        u_table.reshape(-1),
        scale,
        m,
        workers,
        -1 if queue_capacity is None else queue_capacity,
        timeout_s,
        kind,
        base_s,
        cap_s,
        jitter,
        budget is not None,
        budget.deposit_per_success if budget else 0.0,
        budget.cost_per_retry if budget else 0.0,
        budget.max_tokens if budget else 0.0,
        budget.start_tokens if budget else 0.0,
        breaker.failure_threshold if breaker else 0,
        breaker.open_s if breaker else 0.0,
        admission.rate_per_s or 0.0,
        admission.burst,
        -1 if admission.max_queue_length is None else admission.max_queue_length,
        server_policy.drop_wait_s(timeout_s),
        slowdown,
        slowdown_onset,
        snapshot_s,
        np.zeros(slots, dtype=np.int64),  # queue buffer
        previous,
    ]
    kernel = kern.get_kernel("event_loop", use_numba)
    if use_numba:
        kernel(*args, *outputs.values())
    else:
        py_args = [a.tolist() if isinstance(a, np.ndarray) else a for a in args]
        py_out = {k: v.tolist() for k, v in outputs.items()}
        kernel(*py_args, *py_out.values())
        outputs = {k: np.array(py_out[k], dtype=v.dtype) for k, v in outputs.items()}

    used = outputs["att_server"] != kern.SERVER_UNUSED
    index = np.flatnonzero(used)
    att_request, att_number = np.divmod(index, m)
    request_attempts = np.bincount(att_request, minlength=n)
    run.update(
        att_request=att_request,
        att_number=att_number,
        att_arrival_s=outputs["att_arrival_s"][index],
        att_dequeue_s=outputs["att_dequeue_s"][index],
        att_end_s=outputs["att_end_s"][index],
        att_client=outputs["att_client"][index],
        att_server=outputs["att_server"][index],
        request_arrival_s=arrival_s,
        request_outcome=outputs["request_outcome"],
        request_end_s=outputs["request_end_s"],
        request_attempts=request_attempts,
        snapshots=outputs["snapshots"].reshape(-1, kern.N_SNAP),
    )


# --------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------


def _bin_edges(horizon_s: float, bin_s: float) -> np.ndarray:
    """Bin boundaries 0, bin_s, 2 bin_s, ..., horizon_s (the last bin may be short)."""
    n_bins = max(1, math.ceil(horizon_s / bin_s - 1e-9))
    edges = np.arange(n_bins + 1, dtype=np.float64) * bin_s
    edges[-1] = horizon_s
    return edges


def _count_upto(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Number of (non-nan) ``times`` <= each edge."""
    times = times[~np.isnan(times)] if times.dtype.kind == "f" else times
    if times.size == 0:
        return np.zeros(edges.size, dtype=np.int64)
    # Each time counts from the first edge >= it onwards.
    first_edge = np.searchsorted(edges, times, side="left")
    return np.cumsum(np.bincount(first_edge, minlength=edges.size + 1)[: edges.size])


def _binned_overlap(start: np.ndarray, end: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Total length of the intervals ``[start, end)`` falling in each bin."""
    n_bins = edges.size - 1
    if start.size == 0:
        return np.zeros(n_bins)
    s = np.clip(start, edges[0], edges[-1])
    e = np.clip(end, edges[0], edges[-1])
    first = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
    last = np.clip(np.searchsorted(edges, e, side="right") - 1, 0, n_bins - 1)
    same = first == last
    # np.bincount returns integers when it is given no entries, even with weights: start from
    # a float array so that adding the weighted counts always works.
    total = np.zeros(n_bins)
    total += np.bincount(first[same], weights=(e - s)[same], minlength=n_bins)
    f, la, s2, e2 = first[~same], last[~same], s[~same], e[~same]
    total += np.bincount(f, weights=edges[f + 1] - s2, minlength=n_bins)
    total += np.bincount(la, weights=e2 - edges[la], minlength=n_bins)
    # Bins strictly between first and last are fully covered.
    cover = np.bincount(f + 1, minlength=n_bins + 1) - np.bincount(la, minlength=n_bins + 1)
    total += np.cumsum(cover)[:n_bins] * np.diff(edges)
    return total


def _binned_quantiles(times, values, edges, quantiles) -> np.ndarray:
    """Per-bin quantiles of ``values`` grouped by the bin of ``times`` (nan if empty)."""
    n_bins = edges.size - 1
    out = np.full((n_bins, len(quantiles)), np.nan)
    keep = (times >= edges[0]) & (times < edges[-1])
    times, values = times[keep], values[keep]
    if times.size == 0:
        return out
    bins = np.searchsorted(edges, times, side="right") - 1
    if np.any(np.diff(bins) < 0):
        order = np.argsort(bins, kind="stable")
        bins, values = bins[order], values[order]
    bounds = np.searchsorted(bins, np.arange(n_bins + 1))
    for b in range(n_bins):
        lo, hi = bounds[b], bounds[b + 1]
        if hi > lo:
            out[b] = np.quantile(values[lo:hi], quantiles)
    return out


def _attempt_masks(run):
    client = run["att_client"]
    server = run["att_server"]
    return {
        "success": client == kern.CLIENT_SUCCESS,
        "timeout": client == kern.CLIENT_TIMEOUT,
        "rejected": client == kern.CLIENT_REJECTED,
        "served": server == kern.SERVER_SERVED,
        "dropped": server == kern.SERVER_DROPPED,
    }


def _timeseries(run, edges) -> pd.DataFrame:
    masks = _attempt_masks(run)
    arrival = run["att_arrival_s"]
    dequeue = run["att_dequeue_s"]
    end = run["att_end_s"]
    deadline = arrival + run["timeout_s"]
    width = np.diff(edges)

    def rate(times):
        return np.diff(_count_upto(times, edges)) / width

    served = masks["served"]
    zombie = served & masks["timeout"]
    admitted = ~masks["rejected"]
    failed = run["request_outcome"] > kern.REQUEST_SUCCEEDED
    busy = _binned_overlap(dequeue[served], end[served], edges)
    latency = _binned_quantiles(
        arrival[served], end[served] - arrival[served], edges, [0.5, 0.95, 0.99]
    )
    return pd.DataFrame(
        {
            "time_s": edges[:-1],
            "arrival_rate_per_s": rate(run["request_arrival_s"]),
            "offered_rate_per_s": rate(arrival),
            "retry_rate_per_s": rate(arrival[run["att_number"] > 0]),
            "accepted_rate_per_s": rate(arrival[admitted]),
            "rejected_rate_per_s": rate(arrival[masks["rejected"]]),
            "throughput_per_s": rate(end[served]),
            "goodput_per_s": rate(end[masks["success"]]),
            "timeout_rate_per_s": rate(deadline[masks["timeout"]]),
            "dropped_rate_per_s": rate(dequeue[masks["dropped"]]),
            "failure_rate_per_s": rate(run["request_end_s"][failed]),
            "queue_length": _binned_overlap(arrival[admitted], dequeue[admitted], edges) / width,
            "utilisation": busy / (width * run["workers"]),
            "busy_work_s": busy,
            "wasted_work_s": _binned_overlap(dequeue[zombie], end[zombie], edges),
            "latency_p50_s": latency[:, 0],
            "latency_p95_s": latency[:, 1],
            "latency_p99_s": latency[:, 2],
        }
    )


def _counts(run, edges) -> pd.DataFrame:
    masks = _attempt_masks(run)
    arrival = run["att_arrival_s"]
    dequeue = run["att_dequeue_s"]
    end = run["att_end_s"]
    deadline = arrival + run["timeout_s"]
    request_end = run["request_end_s"]
    outcome = run["request_outcome"]
    served = masks["served"]
    counts = {
        "time_s": edges,
        "requests": _count_upto(run["request_arrival_s"], edges),
        "requests_succeeded": _count_upto(request_end[outcome == kern.REQUEST_SUCCEEDED], edges),
        "requests_failed": _count_upto(request_end[outcome > kern.REQUEST_SUCCEEDED], edges),
        "attempts": _count_upto(arrival, edges),
        "attempts_succeeded": _count_upto(end[masks["success"]], edges),
        "attempts_abandoned": _count_upto(deadline[masks["timeout"]], edges),
        "attempts_rejected": _count_upto(arrival[masks["rejected"]], edges),
        "served": _count_upto(end[served], edges),
        "dropped": _count_upto(dequeue[masks["dropped"]], edges),
    }
    snapshots = run["snapshots"]
    if snapshots is None:
        # Recursion engine: no retries, rejections or drops; derive the snapshots.
        started = _count_upto(dequeue, edges)
        snapshots = np.column_stack(
            [
                counts["attempts"] - started,
                started - counts["served"],
                counts["attempts"] - counts["attempts_succeeded"] - counts["attempts_abandoned"],
                np.zeros(edges.size, dtype=np.int64),
            ]
        )
    counts["requests_waiting"] = snapshots[:, kern.SNAP_WAITING]
    counts["requests_backing_off"] = snapshots[:, kern.SNAP_BACKING_OFF]
    counts["attempts_waiting"] = snapshots[:, kern.SNAP_WAITING]
    counts["queue_length"] = snapshots[:, kern.SNAP_QUEUE]
    counts["in_service"] = snapshots[:, kern.SNAP_BUSY]
    order = [
        "time_s",
        "requests",
        "requests_succeeded",
        "requests_failed",
        "requests_waiting",
        "requests_backing_off",
        "attempts",
        "attempts_succeeded",
        "attempts_abandoned",
        "attempts_rejected",
        "attempts_waiting",
        "served",
        "dropped",
        "queue_length",
        "in_service",
    ]
    return pd.DataFrame({k: counts[k] for k in order})


def _summary(run) -> SimulationSummary:
    masks = _attempt_masks(run)
    served = masks["served"]
    zombie = served & masks["timeout"]
    arrival = run["att_arrival_s"]
    wait = run["att_dequeue_s"][served] - arrival[served]
    response = run["att_end_s"][served] - arrival[served]
    work = run["att_end_s"] - run["att_dequeue_s"]
    outcome = run["request_outcome"]
    n_requests = int(outcome.size)
    n_attempts = int(arrival.size)
    busy = float(work[served].sum())
    wasted = float(work[zombie].sum())
    nan = float("nan")
    last_times = [run["request_end_s"], run["att_end_s"]]
    end_s = max((float(np.nanmax(t)) for t in last_times if np.any(~np.isnan(t))), default=0.0)
    return SimulationSummary(
        n_requests=n_requests,
        n_succeeded=int(np.sum(outcome == kern.REQUEST_SUCCEEDED)),
        n_failed=int(np.sum(outcome > kern.REQUEST_SUCCEEDED)),
        n_attempts=n_attempts,
        n_retries=int(np.sum(run["att_number"] > 0)),
        n_abandoned=int(masks["timeout"].sum()),
        n_rejected=int(masks["rejected"].sum()),
        n_dropped=int(masks["dropped"].sum()),
        n_short_circuited=int(np.sum(outcome == kern.REQUEST_SHORT_CIRCUITED)),
        success_fraction=float(np.mean(outcome == kern.REQUEST_SUCCEEDED)) if n_requests else nan,
        attempts_per_request=n_attempts / n_requests if n_requests else nan,
        mean_wait_s=float(wait.mean()) if wait.size else nan,
        p95_wait_s=float(np.quantile(wait, 0.95)) if wait.size else nan,
        mean_response_s=float(response.mean()) if response.size else nan,
        busy_work_s=busy,
        wasted_work_s=wasted,
        wasted_fraction=wasted / busy if busy > 0 else nan,
        end_s=end_s,
    )


def _attempts_frame(run) -> pd.DataFrame:
    arrival = run["att_arrival_s"]
    dequeue = run["att_dequeue_s"]
    end = run["att_end_s"]
    client_codes = run["att_client"].astype(np.int64) - kern.CLIENT_SUCCESS
    server_codes = run["att_server"].astype(np.int64) - kern.SERVER_SERVED
    masks = _attempt_masks(run)
    return pd.DataFrame(
        {
            "request_id": run["att_request"],
            "attempt": run["att_number"] + 1,
            "arrival_s": arrival,
            "wait_s": dequeue - arrival,
            "service_s": end - dequeue,
            "end_s": end,
            "response_s": end - arrival,
            "client_outcome": pd.Categorical.from_codes(client_codes, CLIENT_OUTCOMES),
            "server_outcome": pd.Categorical.from_codes(server_codes, SERVER_OUTCOMES),
            "zombie": masks["served"] & masks["timeout"],
        }
    )
