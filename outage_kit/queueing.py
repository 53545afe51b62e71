"""Closed-form queueing: Erlang B and C, M/M/1, M/M/c, M/M/c/K, waiting-time tails, staffing.

Every function here is pure: numbers (or numpy arrays) in, numbers out. Rates are per second
(``arrival_rate`` λ and ``service_rate`` μ, in 1/s), times are in seconds, and the offered load
``a = λ/μ`` is in Erlangs (the mean number of busy servers if nobody were ever turned away).

Conventions shared by all functions:

* Rates, loads and times accept a Python number or an array; arrays broadcast together and the
  result has the broadcast shape. A result from scalar inputs is a plain ``float``.
* ``servers`` and ``capacity`` are counts: an ``int`` or numpy integer, or a float with a whole
  value such as ``3.0`` (what a float slider gives), which is read as ``3``. ``3.5``, ``0``,
  negative counts, NaN and infinity raise ``ValueError``; ``bool``, strings and arrays raise
  ``TypeError``.
* Negative, NaN or infinite rates, loads and times raise ``ValueError`` naming the argument;
  non-numeric ones raise ``TypeError``. No function returns NaN.
* A steady-state result asked of an unstable infinite queue (utilisation ``λ/(cμ) ≥ 1``) raises
  ``ValueError`` stating the utilisation: no steady state exists. The finite M/M/c/K queue is
  stable at any load and always answers.

Numerics. The textbook sum ``a^k/k!`` overflows from about 170 servers. Erlang B is computed as
``B(c, a) = P(N = c) / P(N ≤ c)`` with ``N ~ Poisson(a)``: for ``a < c`` the numerator is taken in
log space with Loader's saddle-point form and the denominator is the regularised upper incomplete
gamma function ``Q(c + 1, a)`` (never below about 1/2 there); for ``a ≥ c``, where both underflow,
the stable recursion ``1/B(k) = 1 + (k/a)/B(k - 1)`` is unrolled into the convergent series
``1/B(c) = Σ_j c!/((c - j)! a^j)``, truncated once its terms fall below 1e-18 of the sum
(at most about ``9√c`` terms). Relative accuracy is about 1e-12 or better up to
``c = 100 000`` servers and ``a = 100 000`` Erlangs (checked against mpmath in the tests).

References: Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*, 4th ed.
(Wiley, 2008), ch. 2; Kleinrock, *Queueing Systems, Vol. 1: Theory* (Wiley, 1975), ch. 3;
Little, "A proof for the queuing formula L = λW", *Operations Research* 9 (1961) 383-387;
Loader, "Fast and accurate computation of binomial probabilities" (2000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincc, gammaln

__all__ = [
    "QueueMetrics",
    "erlang_b",
    "erlang_c",
    "littles_law_number",
    "littles_law_rate",
    "littles_law_time",
    "mm1_metrics",
    "mmc_metrics",
    "mmc_response_tail",
    "mmc_wait_quantile",
    "mmc_wait_tail",
    "mmck_metrics",
    "mmck_wait_tail",
    "servers_for_mean_wait",
    "servers_for_wait_tail",
    "workers_needed",
]

_LOG_2PI = math.log(2.0 * math.pi)
_SERIES_REL_TOL = 1e-18  # truncation point of the a >= c Erlang B series
_TAIL_CHUNK_ELEMENTS = 1 << 20  # working-array size for the M/M/c/K waiting-time tail


# --------------------------------------------------------------------------------------------
# Validation (private)
# --------------------------------------------------------------------------------------------


def _real_array(name: str, value) -> np.ndarray:
    """``value`` as a float array; TypeError unless it is a real number or array of them."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number or an array of numbers, not a bool ({value!r})")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a number or an array of numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, "
            f"got {type(value).__name__} (dtype {arr.dtype})"
        )
    return arr.astype(float)


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first offending element of ``arr`` (with its index for arrays)."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    value = float(arr[index])
    if arr.ndim == 0:
        return f"{value!r}"
    where = index[0] if len(index) == 1 else index
    return f"{value!r} at index {where}"


def _check_nonnegative(name: str, value, *, positive: bool = False) -> np.ndarray:
    """Finite, ``>= 0`` (or ``> 0`` if ``positive``) float array, else ValueError naming it."""
    arr = _real_array(name, value)
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if bad.any():
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {need}, got {_first_bad(arr, bad)}")
    return arr


def _check_rate(name: str, value, *, positive: bool = False) -> np.ndarray:
    """A rate in 1/s: finite and non-negative (strictly positive for service rates)."""
    return _check_nonnegative(name, value, positive=positive)


def _check_count(name: str, value) -> int:
    """A count of servers or places: int, numpy integer or whole float, at least 1."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, not a bool ({value!r})")
    if isinstance(value, (int, np.integer)):
        count = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != math.floor(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        count = int(value)
    else:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if count < 1:
        raise ValueError(f"{name} must be at least 1, got {count}")
    return count


def _check_probability(name: str, value, *, low_open: bool, high_open: bool) -> np.ndarray:
    arr = _real_array(name, value)
    too_low = (arr <= 0) if low_open else (arr < 0)
    too_high = (arr >= 1) if high_open else (arr > 1)
    bad = ~np.isfinite(arr) | too_low | too_high
    if bad.any():
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {interval}, got {_first_bad(arr, bad)}")
    return arr


def _scalar(name: str, arr: np.ndarray) -> float:
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a single number here, got an array of shape {arr.shape}")
    return float(arr)


def _offered_load(arrival_rate: np.ndarray, service_rate: np.ndarray) -> np.ndarray:
    load = arrival_rate / service_rate
    if not np.all(np.isfinite(load)):
        raise ValueError(
            "arrival_rate / service_rate overflows: the offered load must be a finite number "
            "of Erlangs (use a larger service_rate or smaller arrival_rate)"
        )
    return load


def _require_stable(load: np.ndarray, servers: int, what: str) -> None:
    """ValueError stating the utilisation if any ``load >= servers`` (no steady state)."""
    unstable = load >= servers
    if unstable.any():
        index = tuple(int(i) for i in np.argwhere(unstable)[0])
        utilisation = float(load[index]) / servers
        where = "" if load.ndim == 0 else f" (element {index[0] if len(index) == 1 else index})"
        raise ValueError(
            f"utilisation {utilisation:.4g} ≥ 1{where}: the queue grows without bound and no "
            f"steady state exists. {what} needs utilisation < 1: add servers, lower the arrival "
            "rate, or use mmck_metrics for a queue with finite capacity."
        )


def _out(x):
    """Plain float for 0-d results, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------------------------
# Numerical kernels (private)
# --------------------------------------------------------------------------------------------


def _log_ratio(load: np.ndarray, servers: int) -> np.ndarray:
    """``log(load / servers)`` for ``load > 0``, accurate also when the ratio is near 1."""
    near = np.abs(load - servers) < 0.5 * servers
    d = (load - servers) / servers  # load - servers is exact when near (Sterbenz)
    far = np.log(np.where(near, 1.0, load)) - math.log(servers)
    return np.where(near, np.log1p(np.where(near, d, 0.0)), far)


def _stirling_error(n: int) -> float:
    """``log(n!) - log(sqrt(2πn) (n/e)^n)`` for an integer ``n >= 1`` (Loader 2000)."""
    if n <= 15:
        return float(gammaln(n + 1.0) - (n + 0.5) * math.log(n) + n - 0.5 * _LOG_2PI)
    n2 = 1.0 / (n * n)
    return (1 / 12 - n2 * (1 / 360 - n2 * (1 / 1260 - n2 * (1 / 1680 - n2 / 1188)))) / n


def _erlang_b_parts(servers: int, load: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Erlang B and its complement ``1 - B``, both to full relative precision."""
    blocking = np.zeros_like(load)
    complement = np.ones_like(load)

    light = (load > 0) & (load < servers)
    if light.any():
        a = load[light]
        x = _log_ratio(a, servers)  # log(a/c)
        # Loader's deviance: c*log(c/a) + a - c = c*(exp(x) - 1 - x), without cancellation.
        deviance = servers * (np.expm1(x) - x)
        log_pmf = -deviance - 0.5 * (_LOG_2PI + math.log(servers)) - _stirling_error(servers)
        b = np.exp(log_pmf - np.log(gammaincc(servers + 1.0, a)))
        blocking[light] = b
        complement[light] = 1.0 - b  # b is at most about 1/2 here

    heavy = load >= servers
    if heavy.any():
        a = load[heavy]
        # 1/B(c) = 1 + c/a + c(c-1)/a^2 + ...: the recursion 1/B(k) = 1 + (k/a)/B(k-1) unrolled.
        # Every term ratio (c-j)/a is below 1, so the sum converges and never overflows.
        term = np.ones_like(a)
        tail = np.zeros_like(a)  # the sum without its leading 1
        for j in range(servers):
            term *= (servers - j) / a
            tail += term
            if j % 32 == 31 and np.all(term <= _SERIES_REL_TOL * (1.0 + tail)):
                break
        blocking[heavy] = 1.0 / (1.0 + tail)
        complement[heavy] = tail / (1.0 + tail)
    return blocking, complement


def _erlang_c_from_b(servers: int, load: np.ndarray, blocking: np.ndarray) -> np.ndarray:
    """Erlang C from Erlang B: ``C = c B / (c - a (1 - B))`` for ``a < c``."""
    return servers * blocking / ((servers - load) + load * blocking)


def _geometric_sum(s: np.ndarray, n: int) -> np.ndarray:
    """``sum_{i=0}^{n} exp(i s)`` for ``s <= 0`` (0 for ``n = -1``)."""
    if n < 0:
        return np.zeros_like(s)
    nonzero = s < 0
    s_safe = np.where(nonzero, s, -1.0)
    return np.where(nonzero, np.expm1((n + 1) * s_safe) / np.expm1(s_safe), float(n + 1))


def _truncated_geometric_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``J`` on ``{0, ..., n}`` with ``P(J = j) ∝ exp(j x)`` (0 for ``n <= 0``)."""
    if n <= 0:
        return np.zeros_like(x)
    u = np.abs(x)
    small = (n + 1) * u < 1e-2  # where the direct form cancels; its Taylor series is exact there
    u_direct = np.where(small, 1.0, u)
    u_series = np.where(small, u, 0.0)
    # Mean for the decreasing weights exp(-j u): 1/(e^u - 1) - (n+1)/(e^((n+1)u) - 1),
    # written with e^-u so that nothing overflows.
    first = np.exp(-u_direct) / -np.expm1(-u_direct)
    second = (n + 1) * np.exp(-(n + 1) * u_direct) / -np.expm1(-(n + 1) * u_direct)
    direct = first - second
    # Taylor series of the same in u (Bernoulli numbers): with y = (n+1)u,
    # n/2 - ((n+1)^2 - 1) u/12 + ((n+1)^4 - 1) u^3/720 - ((n+1)^6 - 1) u^5/30240 + ...
    y = (n + 1) * u_series
    series = (
        n / 2
        - ((n + 1) * y - u_series) / 12
        + ((n + 1) * y**3 - u_series**3) / 720
        - ((n + 1) * y**5 - u_series**5) / 30240
    )
    decreasing = np.where(small, series, direct)
    return np.where(x > 0, n - decreasing, decreasing)


# --------------------------------------------------------------------------------------------
# Erlang B and C
# --------------------------------------------------------------------------------------------


def erlang_b(servers, offered_load):
    """Erlang B: probability that an arrival finds all servers busy and is lost (M/M/c/c).

    .. math:: B(c, a) = \\frac{a^c / c!}{\\sum_{k=0}^{c} a^k / k!}

    Computed stably for up to hundreds of thousands of servers and Erlangs (see the module
    notes): no overflow, no NaN. By insensitivity the result holds for any service-time
    distribution with the same mean (Gross et al., *Fundamentals of Queueing Theory*, ch. 2).

    Parameters
    ----------
    servers : int
        Number of servers ``c >= 1`` (trunks, worker threads, connections).
    offered_load : float or array_like
        Offered load ``a = λ/μ`` in Erlangs, finite and ``>= 0``. Any load is allowed: a loss
        system is stable at every load.

    Returns
    -------
    float or numpy.ndarray
        Blocking probability in ``[0, 1]``, with the shape of ``offered_load``.

    Raises
    ------
    ValueError
        If ``servers`` is not a whole number ``>= 1`` or a load is negative, NaN or infinite.
    TypeError
        If an argument is not numeric (or ``servers`` is a bool or an array).

    Examples
    --------
    The classical Erlang B table: 10 trunks carry 4.46 Erlangs at 1 % blocking.

    >>> round(erlang_b(10, 4.46), 4)
    0.01
    >>> round(erlang_b(1, 1.0), 4)  # one server: a / (1 + a)
    0.5
    >>> [round(float(b), 4) for b in erlang_b(100, [80.0, 100.0, 120.0])]
    [0.004, 0.0757, 0.1963]
    >>> erlang_b(100_000, 100_000.0) > 0
    True
    """
    c = _check_count("servers", servers)
    load = _check_nonnegative("offered_load", offered_load)
    blocking, _ = _erlang_b_parts(c, load)
    return _out(blocking)


def erlang_c(servers, offered_load):
    """Erlang C: probability that an arrival has to wait in an M/M/c queue.

    .. math:: C(c, a) = \\frac{c\\,B(c, a)}{c - a\\,(1 - B(c, a))}, \\qquad a < c

    where ``B`` is :func:`erlang_b` (Gross et al., *Fundamentals of Queueing Theory*, ch. 2;
    Kleinrock, *Queueing Systems* vol. 1, ch. 3).

    Parameters
    ----------
    servers : int
        Number of servers ``c >= 1``.
    offered_load : float or array_like
        Offered load ``a = λ/μ`` in Erlangs, finite, ``>= 0`` and ``< servers``.

    Returns
    -------
    float or numpy.ndarray
        Probability of waiting in ``[0, 1]``, with the shape of ``offered_load``.

    Raises
    ------
    ValueError
        If ``offered_load >= servers`` (utilisation ``a/c >= 1``: the queue grows without bound
        and no steady state exists; the message gives the utilisation), or on bad input as in
        :func:`erlang_b`.

    Examples
    --------
    M/M/2 at utilisation 1/2: ``C = 2ρ²/(1 + ρ) = 1/3``.

    >>> round(erlang_c(2, 1.0), 6)
    0.333333
    >>> round(erlang_c(1, 0.8), 6)  # M/M/1: C equals the utilisation
    0.8
    >>> [round(float(p), 4) for p in erlang_c(10, [5.0, 8.0, 9.5])]
    [0.0361, 0.4092, 0.8256]
    """
    c = _check_count("servers", servers)
    load = _check_nonnegative("offered_load", offered_load)
    _require_stable(load, c, "Erlang C")
    blocking, _ = _erlang_b_parts(c, load)
    return _out(_erlang_c_from_b(c, load, blocking))


# --------------------------------------------------------------------------------------------
# Steady-state metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state metrics of a queue; each field is a float, or an array of the input shape.

    Attributes
    ----------
    utilisation : float or numpy.ndarray
        Fraction of time each server is busy, ``λ_eff / (c μ)``. For the infinite queues this is
        ``λ / (c μ)``; for M/M/c/K it is the carried load per server and stays below 1 even when
        the offered utilisation ``λ / (c μ)`` exceeds 1.
    prob_wait : float or numpy.ndarray
        Probability that a served customer has to wait (all servers busy on arrival). For
        M/M/c/K this is conditional on being admitted.
    prob_block : float or numpy.ndarray
        Probability that an arrival is turned away (0 for the infinite queues).
    mean_wait_s : float or numpy.ndarray
        Mean time in queue before service, in seconds, over served customers.
    mean_response_s : float or numpy.ndarray
        Mean time in system (wait + service), in seconds, over served customers.
    mean_queue_length : float or numpy.ndarray
        Mean number waiting (not in service).
    mean_in_system : float or numpy.ndarray
        Mean number in the system (waiting + in service).
    throughput_per_s : float or numpy.ndarray
        Rate of customers served, ``λ (1 - prob_block)``, in 1/s.

    Little's law holds for every instance: ``mean_in_system = throughput_per_s *
    mean_response_s`` and ``mean_queue_length = throughput_per_s * mean_wait_s``.

    Examples
    --------
    >>> m = mm1_metrics(0.5, 1.0)
    >>> round(m.mean_in_system, 6), round(m.throughput_per_s * m.mean_response_s, 6)
    (1.0, 1.0)
    >>> import dataclasses
    >>> dataclasses.asdict(m)["prob_block"]
    0.0
    """

    utilisation: float | np.ndarray
    prob_wait: float | np.ndarray
    prob_block: float | np.ndarray
    mean_wait_s: float | np.ndarray
    mean_response_s: float | np.ndarray
    mean_queue_length: float | np.ndarray
    mean_in_system: float | np.ndarray
    throughput_per_s: float | np.ndarray


def _metrics(**fields) -> QueueMetrics:
    shape = np.broadcast_shapes(*(np.shape(v) for v in fields.values()))
    return QueueMetrics(
        **{
            k: _out(np.array(np.broadcast_to(np.asarray(v, dtype=float), shape)))
            for k, v in fields.items()
        }
    )


def mm1_metrics(arrival_rate, service_rate) -> QueueMetrics:
    """Steady-state metrics of the M/M/1 queue.

    With ``ρ = λ/μ < 1``: ``P(wait) = ρ``, ``L = ρ/(1 - ρ)``, ``Lq = ρ²/(1 - ρ)``,
    ``W = 1/(μ - λ)``, ``Wq = ρ/(μ - λ)`` (Gross et al., *Fundamentals of Queueing Theory*,
    ch. 2; Kleinrock, *Queueing Systems* vol. 1, ch. 3).

    Parameters
    ----------
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite and ``>= 0``.
    service_rate : float or array_like
        Service rate μ in 1/s, finite and ``> 0``.

    Returns
    -------
    QueueMetrics
        Fields broadcast to the shape of the inputs.

    Raises
    ------
    ValueError
        If ``λ >= μ`` (the message gives the utilisation; no steady state exists) or on bad input.

    Examples
    --------
    >>> m = mm1_metrics(0.8, 1.0)
    >>> round(m.mean_in_system, 6), round(m.mean_response_s, 6)
    (4.0, 5.0)
    >>> round(m.mean_queue_length, 6), round(m.mean_wait_s, 6)
    (3.2, 4.0)
    """
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate, positive=True)
    rho = _offered_load(lam, mu)
    _require_stable(rho, 1, "M/M/1")
    return _metrics(
        utilisation=rho,
        prob_wait=rho,
        prob_block=np.zeros_like(rho),
        mean_wait_s=rho / (mu - lam),
        mean_response_s=1.0 / (mu - lam),
        mean_queue_length=rho * rho / (1.0 - rho),
        mean_in_system=rho / (1.0 - rho),
        throughput_per_s=lam * np.ones_like(rho),
    )


def mmc_metrics(arrival_rate, service_rate, servers) -> QueueMetrics:
    """Steady-state metrics of the M/M/c queue (Erlang C model).

    With ``a = λ/μ``, ``ρ = a/c < 1`` and ``C = C(c, a)`` from :func:`erlang_c`:
    ``Wq = C / (cμ - λ)``, ``Lq = C ρ / (1 - ρ)``, ``W = Wq + 1/μ``, ``L = Lq + a``
    (Gross et al., *Fundamentals of Queueing Theory*, ch. 2; Kleinrock, *Queueing Systems*
    vol. 1, ch. 3).

    Parameters
    ----------
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite and ``>= 0``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.

    Returns
    -------
    QueueMetrics
        Fields broadcast to the shape of the rate inputs.

    Raises
    ------
    ValueError
        If ``λ >= c μ`` (the message gives the utilisation; no steady state exists) or on bad
        input.

    Examples
    --------
    >>> m = mmc_metrics(1.0, 1.0, 2)  # M/M/2 at utilisation 1/2
    >>> round(m.prob_wait, 6), round(m.mean_queue_length, 6), round(m.mean_wait_s, 6)
    (0.333333, 0.333333, 0.333333)
    >>> waits = mmc_metrics([5.0, 8.0, 9.5], 1.0, 10).mean_wait_s
    >>> [round(float(w), 4) for w in waits]
    [0.0072, 0.2046, 1.6512]
    """
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate, positive=True)
    c = _check_count("servers", servers)
    load = _offered_load(lam, mu)
    _require_stable(load, c, "M/M/c")
    blocking, _ = _erlang_b_parts(c, load)
    prob_wait = _erlang_c_from_b(c, load, blocking)
    mean_wait = prob_wait / (c * mu - lam)
    mean_queue = prob_wait * load / (c - load)
    return _metrics(
        utilisation=load / c,
        prob_wait=prob_wait,
        prob_block=np.zeros_like(load),
        mean_wait_s=mean_wait,
        mean_response_s=mean_wait + 1.0 / mu,
        mean_queue_length=mean_queue,
        mean_in_system=mean_queue + load,
        throughput_per_s=lam * np.ones_like(load),
    )


def _mmck_state(load: np.ndarray, servers: int, capacity: int) -> dict[str, np.ndarray]:
    """Stationary quantities of M/M/c/K, computed without overflow at any load.

    With ``ρ = a/c`` and ``m = K - c``: ``p_n ∝ a^n/n!`` for ``n <= c`` and
    ``p_{c+j} = p_c ρ^j`` for ``0 <= j <= m``. Given ``N >= c``, ``J = N - c`` is a truncated
    geometric variable on ``{0..m}``. ``Σ_{n<c} p_n / p_c = 1/B(c, a) - 1``, so the split
    between ``N < c`` and ``N >= c`` comes from Erlang B; both pieces are scaled by ``ρ^{-m}``
    when ``ρ > 1`` so nothing overflows.
    """
    m = capacity - servers
    positive = load > 0
    x = np.where(positive, _log_ratio(np.where(positive, load, servers), servers), -1.0)
    u = np.abs(x)
    blocking, complement = _erlang_b_parts(servers, load)
    geo_m = _geometric_sum(-u, m)  # Σ_{j<=m} ρ^j, divided by ρ^m when ρ > 1
    scale = np.exp(-m * np.maximum(x, 0.0))  # ρ^-m when ρ > 1, else 1
    denom = complement * scale + blocking * geo_m
    p_busy = blocking * geo_m / denom  # P(N >= c)
    p_idle_server = complement * scale / denom  # P(N < c)
    p_full_given_busy = np.exp(m * np.minimum(x, 0.0)) / geo_m  # P(J = m)
    p_room_given_busy = np.exp(-u * (x > 0)) * _geometric_sum(-u, m - 1) / geo_m  # P(J < m)
    p_admit = p_idle_server + p_busy * p_room_given_busy  # 1 - P(N = K)
    return {
        "p_block": p_busy * p_full_given_busy,
        "p_admit": p_admit,
        "prob_wait": p_busy * p_room_given_busy / p_admit,
        "mean_queue": p_busy * _truncated_geometric_mean(x, m),
        # an admitted arrival finding c + j present waits Erlang(j + 1, cμ), j in {0..m-1}
        "mean_ahead": 1.0 + _truncated_geometric_mean(x, m - 1),
        "log_ratio": x,
    }


def _mmck_inputs(arrival_rate, service_rate, servers, capacity):
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate, positive=True)
    c = _check_count("servers", servers)
    k = _check_count("capacity", capacity)
    if k < c:
        raise ValueError(
            f"capacity (the maximum number in the system, those in service included) must be "
            f">= servers = {c}, got {k}"
        )
    return lam, mu, c, k


def mmck_metrics(arrival_rate, service_rate, servers, capacity) -> QueueMetrics:
    """Steady-state metrics of the finite M/M/c/K queue (at most K in system, the rest lost).

    Birth-death solution: ``p_n = p_0 a^n/n!`` for ``n <= c``,
    ``p_n = p_0 a^c/c! ρ^(n-c)`` for ``c <= n <= K``, with ``a = λ/μ`` and ``ρ = a/c``.
    ``prob_block = p_K``, throughput ``λ_eff = λ(1 - p_K)``, ``Lq = Σ (n - c) p_n``,
    ``Wq = Lq/λ_eff`` (Gross et al., *Fundamentals of Queueing Theory*, ch. 2; Kleinrock,
    *Queueing Systems* vol. 1, ch. 3). ``K = c`` is the Erlang loss system, whose
    ``prob_block`` is :func:`erlang_b`. Computed in closed form, without overflow and in
    constant time per load, for any load: a finite queue is always stable.

    Parameters
    ----------
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite and ``>= 0``; any value, also ``λ >= cμ``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.
    capacity : int
        Maximum number in the system ``K >= c``, those in service included.

    Returns
    -------
    QueueMetrics
        ``prob_wait``, ``mean_wait_s`` and ``mean_response_s`` are over admitted customers;
        ``utilisation`` is the carried load per server ``λ_eff/(cμ)``.

    Raises
    ------
    ValueError
        If ``capacity < servers`` or on bad input.

    Examples
    --------
    M/M/1/3 at offered utilisation 1: all four states equally likely.

    >>> m = mmck_metrics(1.0, 1.0, 1, 3)
    >>> round(m.prob_block, 6), round(m.throughput_per_s, 6), round(m.mean_in_system, 6)
    (0.25, 0.75, 1.5)
    >>> round(mmck_metrics(4.46, 1.0, 10, 10).prob_block, 4)  # K = c: Erlang B
    0.01
    >>> round(mmck_metrics(30.0, 1.0, 10, 50).utilisation, 6)  # overloaded but stable
    1.0
    """
    lam, mu, c, k = _mmck_inputs(arrival_rate, service_rate, servers, capacity)
    load = _offered_load(lam, mu)
    state = _mmck_state(load, c, k)
    throughput = lam * state["p_admit"]
    mean_wait = state["prob_wait"] * state["mean_ahead"] / (c * mu)
    mean_queue = state["mean_queue"]
    return _metrics(
        # mathematically below 1; the clip only removes a last-bit rounding excess
        utilisation=np.minimum(load * state["p_admit"] / c, 1.0),
        prob_wait=state["prob_wait"],
        prob_block=state["p_block"],
        mean_wait_s=mean_wait,
        mean_response_s=mean_wait + 1.0 / mu,
        mean_queue_length=mean_queue,
        mean_in_system=mean_queue + load * state["p_admit"],
        throughput_per_s=throughput,
    )


# --------------------------------------------------------------------------------------------
# Waiting-time and response-time distributions
# --------------------------------------------------------------------------------------------


def _mmc_inputs(arrival_rate, service_rate, servers, what: str):
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate, positive=True)
    c = _check_count("servers", servers)
    load = _offered_load(lam, mu)
    _require_stable(load, c, what)
    blocking, _ = _erlang_b_parts(c, load)
    return lam, mu, c, _erlang_c_from_b(c, load, blocking)


def mmc_wait_tail(wait_s, arrival_rate, service_rate, servers):
    """Waiting-time tail of the M/M/c queue (FCFS): ``P(W > t) = C(c, a) exp(-(cμ - λ) t)``.

    Given that a customer waits, the wait is exponential with rate ``cμ - λ``
    (Gross et al., *Fundamentals of Queueing Theory*, ch. 2; Kleinrock, *Queueing Systems*
    vol. 1, ch. 3). At ``t = 0`` this is the probability of waiting, Erlang C.

    Parameters
    ----------
    wait_s : float or array_like
        Time ``t`` in seconds, finite and ``>= 0``.
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite, ``>= 0`` and ``< c μ``; broadcasts with ``wait_s``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.

    Returns
    -------
    float or numpy.ndarray
        ``P(W > t)`` in ``[0, 1]``, with the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``λ >= c μ`` (no steady state; the message gives the utilisation) or on bad input.

    Examples
    --------
    >>> round(mmc_wait_tail(0.0, 1.0, 1.0, 2), 6)  # Erlang C
    0.333333
    >>> [round(float(p), 4) for p in mmc_wait_tail([0.5, 1.0, 2.0], 8.0, 1.0, 10)]
    [0.1505, 0.0554, 0.0075]
    """
    t = _check_nonnegative("wait_s", wait_s)
    lam, mu, c, prob_wait = _mmc_inputs(arrival_rate, service_rate, servers, "mmc_wait_tail")
    return _out(prob_wait * np.exp(-(c * mu - lam) * t))


def mmc_wait_quantile(quantile, arrival_rate, service_rate, servers):
    """Quantile of the M/M/c waiting time: the smallest ``t`` with ``P(W <= t) >= q``.

    ``t_q = ln(C / (1 - q)) / (cμ - λ)`` if ``C > 1 - q``, else 0 (at least a fraction ``q`` of
    customers do not wait at all), where ``C`` is Erlang C (inverting :func:`mmc_wait_tail`;
    Gross et al., *Fundamentals of Queueing Theory*, ch. 2).

    Parameters
    ----------
    quantile : float or array_like
        Probability ``q`` in ``[0, 1)``, e.g. 0.99 for the 99th percentile.
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite, ``>= 0`` and ``< c μ``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.

    Returns
    -------
    float or numpy.ndarray
        The waiting-time quantile in seconds, ``>= 0``, with the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``q`` is outside ``[0, 1)``, if ``λ >= c μ`` (no steady state), or on bad input.

    Examples
    --------
    M/M/1 at utilisation 0.8: the wait exceeds t with probability 0.8 exp(-0.2 t).

    >>> round(mmc_wait_quantile(0.99, 0.8, 1.0, 1), 4)  # 5 ln 80
    21.9101
    >>> mmc_wait_quantile(0.5, 1.0, 1.0, 2)  # two-thirds never wait
    0.0
    """
    q = _check_probability("quantile", quantile, low_open=False, high_open=True)
    lam, mu, c, prob_wait = _mmc_inputs(arrival_rate, service_rate, servers, "mmc_wait_quantile")
    ratio = prob_wait / (1.0 - q)
    waits = ratio > 1.0
    return _out(np.where(waits, np.log(np.where(waits, ratio, 1.0)) / (c * mu - lam), 0.0))


def mmc_response_tail(time_s, arrival_rate, service_rate, servers):
    """Response-time tail of the M/M/c queue (FCFS): ``P(T > t)`` with ``T = W + S``.

    With ``C`` = Erlang C, ``θ = cμ - λ``, ``ν = min(θ, μ)`` and ``δ = |θ - μ|``:

    .. math:: P(T > t) = (1 - C) e^{-μt} + C e^{-νt}\\left(1 + ν t \\frac{1 - e^{-δt}}{δt}\\right)

    the second term being the tail of Exp(θ) + Exp(μ). Written this way it stays exact in the
    special case ``θ = μ``, i.e. ``λ = (c - 1)μ``, where the sum is Erlang-2 and the usual form
    ``(θ e^{-μt} - μ e^{-θt})/(θ - μ)`` is 0/0 (Gross et al., *Fundamentals of Queueing Theory*,
    ch. 2).

    Parameters
    ----------
    time_s : float or array_like
        Time ``t`` in seconds, finite and ``>= 0``.
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite, ``>= 0`` and ``< c μ``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.

    Returns
    -------
    float or numpy.ndarray
        ``P(T > t)`` in ``[0, 1]``, with the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``λ >= c μ`` (no steady state) or on bad input.

    Examples
    --------
    M/M/1: the response time is exponential with rate μ - λ.

    >>> round(mmc_response_tail(5.0, 0.8, 1.0, 1), 6)  # exp(-1)
    0.367879
    >>> round(mmc_response_tail(1.0, 1.0, 1.0, 2), 6)  # θ = μ: Erlang-2 in the waiting part
    0.490506
    """
    t = _check_nonnegative("time_s", time_s)
    lam, mu, c, prob_wait = _mmc_inputs(arrival_rate, service_rate, servers, "mmc_response_tail")
    theta = c * mu - lam
    nu = np.minimum(theta, mu)
    z = np.abs(theta - mu) * t
    positive = z > 0
    z_safe = np.where(positive, z, 1.0)
    phi = np.where(positive, -np.expm1(-z_safe) / z_safe, 1.0)  # (1 - e^-z)/z
    sum_tail = np.exp(-nu * t) * (1.0 + nu * t * phi)
    return _out((1.0 - prob_wait) * np.exp(-mu * t) + prob_wait * sum_tail)


def mmck_wait_tail(wait_s, arrival_rate, service_rate, servers, capacity):
    """Waiting-time tail of admitted customers in the finite M/M/c/K queue (FCFS).

    An admitted arrival that finds ``c + j`` customers present (``0 <= j < K - c``) waits for
    ``j + 1`` service completions at rate ``cμ``, an Erlang(j + 1, cμ) time, so

    .. math:: P(W > t \\mid \\text{admitted}) = \\sum_{j=0}^{K-c-1} \\pi_j\\,
              \\sum_{i=0}^{j} e^{-cμt} \\frac{(cμt)^i}{i!}

    where ``π_j = p_{c+j} / (1 - p_K)`` (Gross et al., *Fundamentals of Queueing Theory*,
    ch. 2). The inner Poisson sums are the regularised incomplete gamma function. The cost is
    proportional to ``K - c`` per point, so keep ``capacity - servers`` in the thousands.

    Parameters
    ----------
    wait_s : float or array_like
        Time ``t`` in seconds, finite and ``>= 0``.
    arrival_rate : float or array_like
        Arrival rate λ in 1/s, finite and ``>= 0``; any value, also ``λ >= cμ``.
    service_rate : float or array_like
        Service rate μ of one server in 1/s, finite and ``> 0``.
    servers : int
        Number of servers ``c >= 1``.
    capacity : int
        Maximum number in the system ``K >= c``.

    Returns
    -------
    float or numpy.ndarray
        ``P(W > t | admitted)`` in ``[0, 1]``, with the broadcast shape of the inputs. At
        ``t = 0`` it is ``mmck_metrics(...).prob_wait``.

    Raises
    ------
    ValueError
        If ``capacity < servers`` or on bad input.

    Examples
    --------
    M/M/1/2 at λ = μ = 1: admitted customers wait with probability 1/2, for one Exp(1) time.

    >>> round(mmck_wait_tail(1.0, 1.0, 1.0, 1, 2), 6)  # exp(-1) / 2
    0.18394
    >>> mmck_wait_tail(1.0, 5.0, 1.0, 3, 3)  # no waiting room: nobody waits
    0.0
    """
    t = _check_nonnegative("wait_s", wait_s)
    lam, mu, c, k = _mmck_inputs(arrival_rate, service_rate, servers, capacity)
    t, lam, mu = np.broadcast_arrays(t, lam, mu)
    m = k - c
    if m == 0:  # no waiting room: nobody waits
        return _out(np.zeros(t.shape))
    state = _mmck_state(_offered_load(lam, mu), c, k)
    x = state["log_ratio"][..., None]
    # π_j ∝ ρ^j on {0..m-1}, each weight divided by the largest one so nothing overflows
    norm = _geometric_sum(-np.abs(x), m - 1)
    top = np.where(x > 0, m - 1, 0)
    theta = (c * mu * t)[..., None]
    total = np.zeros(t.shape)
    chunk = max(1, _TAIL_CHUNK_ELEMENTS // max(1, t.size))
    for start in range(0, m, chunk):
        j = np.arange(start, min(m, start + chunk), dtype=float)
        weight = np.exp((j - top) * x) / norm
        total += np.sum(weight * gammaincc(j + 1.0, theta), axis=-1)
    return _out(np.clip(state["prob_wait"] * total, 0.0, 1.0))


# --------------------------------------------------------------------------------------------
# Staffing
# --------------------------------------------------------------------------------------------


def _fewest_servers(load: float, meets) -> int:
    """Smallest stable ``c`` with ``meets(c)``, for ``meets`` monotone in ``c``."""
    low = math.floor(load) + 1  # the fewest servers with a steady state (a < c)
    if meets(low):
        return low
    failing, step = low, max(1, math.ceil(math.sqrt(load)))
    passing = low + step
    while not meets(passing):
        failing, step = passing, 2 * step
        passing = low + step
    while passing - failing > 1:
        middle = (failing + passing) // 2
        if meets(middle):
            passing = middle
        else:
            failing = middle
    return passing


def servers_for_mean_wait(arrival_rate, service_rate, max_mean_wait_s) -> int:
    """The fewest servers ``c`` for which the M/M/c mean wait is at most a target.

    Smallest ``c > λ/μ`` with ``Wq(c) = C(c, a)/(cμ - λ) <= max_mean_wait_s``; ``Wq`` falls
    strictly as ``c`` grows, so an exponential then binary search over ``c`` finds it
    (Gross et al., *Fundamentals of Queueing Theory*, ch. 2).

    Parameters
    ----------
    arrival_rate : float
        Arrival rate λ in 1/s, finite and ``>= 0``.
    service_rate : float
        Service rate μ of one server in 1/s, finite and ``> 0``.
    max_mean_wait_s : float
        Target mean wait in seconds, finite and ``> 0``. With Poisson arrivals some customers
        always wait, so a target of 0 cannot be met.

    Returns
    -------
    int
        The number of servers (1 if ``arrival_rate`` is 0).

    Examples
    --------
    >>> servers_for_mean_wait(8.0, 1.0, 0.05)
    12
    >>> servers_for_mean_wait(1000.0, 0.1, 0.001)  # 10 000 Erlangs
    10211
    """
    lam = _scalar("arrival_rate", _check_rate("arrival_rate", arrival_rate))
    mu = _scalar("service_rate", _check_rate("service_rate", service_rate, positive=True))
    target = _scalar(
        "max_mean_wait_s", _check_nonnegative("max_mean_wait_s", max_mean_wait_s, positive=True)
    )
    load = float(_offered_load(np.asarray(lam), np.asarray(mu)))

    def meets(c: int) -> bool:
        blocking, _ = _erlang_b_parts(c, np.asarray(load))
        return float(_erlang_c_from_b(c, load, blocking)) / (c * mu - lam) <= target

    return _fewest_servers(load, meets)


def servers_for_wait_tail(arrival_rate, service_rate, wait_s, max_probability) -> int:
    """The fewest servers ``c`` for which ``P(W > wait_s) <= max_probability`` in M/M/c.

    Smallest ``c > λ/μ`` with ``C(c, a) exp(-(cμ - λ) t) <= p``: the call-centre service level
    ("at least 1 - p of customers wait no longer than t"). The tail falls strictly as ``c``
    grows (Gross et al., *Fundamentals of Queueing Theory*, ch. 2).

    Parameters
    ----------
    arrival_rate : float
        Arrival rate λ in 1/s, finite and ``>= 0``.
    service_rate : float
        Service rate μ of one server in 1/s, finite and ``> 0``.
    wait_s : float
        Waiting-time threshold ``t`` in seconds, finite and ``>= 0`` (0 bounds the
        probability of waiting at all).
    max_probability : float
        Allowed probability ``p`` in ``(0, 1]``.

    Returns
    -------
    int
        The number of servers (1 if ``arrival_rate`` is 0).

    Examples
    --------
    At most 20 % of callers may wait longer than 20 s, with 2 calls/s of mean length 180 s:

    >>> servers_for_wait_tail(2.0, 1 / 180, 20.0, 0.2)
    369
    >>> servers_for_wait_tail(8.0, 1.0, 0.0, 0.1)  # at most 10 % may wait at all
    13
    """
    lam = _scalar("arrival_rate", _check_rate("arrival_rate", arrival_rate))
    mu = _scalar("service_rate", _check_rate("service_rate", service_rate, positive=True))
    t = _scalar("wait_s", _check_nonnegative("wait_s", wait_s))
    p = _scalar(
        "max_probability",
        _check_probability("max_probability", max_probability, low_open=True, high_open=False),
    )
    load = float(_offered_load(np.asarray(lam), np.asarray(mu)))

    def meets(c: int) -> bool:
        blocking, _ = _erlang_b_parts(c, np.asarray(load))
        prob_wait = float(_erlang_c_from_b(c, load, blocking))
        return prob_wait * math.exp(-(c * mu - lam) * t) <= p

    return _fewest_servers(load, meets)


# --------------------------------------------------------------------------------------------
# Little's law
# --------------------------------------------------------------------------------------------


def littles_law_number(arrival_rate, time_s):
    """Little's law for the mean number present: ``L = λ W``.

    Holds for any stable system in steady state, whatever the arrival and service
    distributions (Little 1961). With ``time_s`` the time in service it is the mean number of
    busy workers: 200 requests/s that each hold a thread for 50 ms keep 10 threads busy.

    Parameters
    ----------
    arrival_rate : float or array_like
        Throughput λ in 1/s, finite and ``>= 0``.
    time_s : float or array_like
        Mean time each item spends in the system, in seconds, finite and ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        Mean number in the system.

    Examples
    --------
    >>> round(littles_law_number(200.0, 0.05), 6)
    10.0
    """
    lam = _check_rate("arrival_rate", arrival_rate)
    t = _check_nonnegative("time_s", time_s)
    return _out(lam * t)


def littles_law_time(number, arrival_rate):
    """Little's law for the mean time in system: ``W = L / λ``.

    E.g. a queue that holds 300 requests on average while draining 100 per second makes each
    request wait 3 s, so a client timeout of 2 s would fire on most of them (Little 1961).

    Parameters
    ----------
    number : float or array_like
        Mean number in the system ``L``, finite and ``>= 0``.
    arrival_rate : float or array_like
        Throughput λ in 1/s, finite and ``> 0``.

    Returns
    -------
    float or numpy.ndarray
        Mean time in the system, in seconds.

    Examples
    --------
    >>> round(littles_law_time(300.0, 100.0), 6)
    3.0
    """
    n = _check_nonnegative("number", number)
    lam = _check_rate("arrival_rate", arrival_rate, positive=True)
    return _out(n / lam)


def littles_law_rate(number, time_s):
    """Little's law for the throughput: ``λ = L / W``.

    E.g. a pool of 50 worker threads, each request holding one for 0.25 s, can serve at most
    200 requests per second (Little 1961).

    Parameters
    ----------
    number : float or array_like
        Mean number in the system ``L``, finite and ``>= 0``.
    time_s : float or array_like
        Mean time in the system ``W`` in seconds, finite and ``> 0``.

    Returns
    -------
    float or numpy.ndarray
        Throughput in 1/s.

    Examples
    --------
    >>> round(littles_law_rate(50.0, 0.25), 6)
    200.0
    """
    n = _check_nonnegative("number", number)
    t = _check_nonnegative("time_s", time_s, positive=True)
    return _out(n / t)


def workers_needed(arrival_rate, time_in_service_s, max_utilisation=0.8):
    """The fewest workers that keep utilisation at or below a target: ``⌈λT / u⌉``.

    By Little's law ``λT`` workers are busy on average; with ``c`` workers each is busy a
    fraction ``λT/c`` of the time. This is a capacity rule of thumb, not a latency guarantee:
    use :func:`servers_for_mean_wait` or :func:`servers_for_wait_tail` to bound waiting.

    Parameters
    ----------
    arrival_rate : float or array_like
        Request rate λ in 1/s, finite and ``>= 0``.
    time_in_service_s : float or array_like
        Mean time a request holds a worker, in seconds, finite and ``>= 0``.
    max_utilisation : float or array_like, optional
        Target utilisation ``u`` in ``(0, 1)``; 1 is excluded because a queue at utilisation 1
        grows without bound. Default 0.8.

    Returns
    -------
    int or numpy.ndarray
        Number of workers, at least 1 (an int for scalar inputs, an int array otherwise).

    Examples
    --------
    >>> workers_needed(200.0, 0.05)  # 10 busy on average, 80 % utilisation
    13
    >>> workers_needed(100.0, 0.08, 0.8)
    10
    """
    lam = _check_rate("arrival_rate", arrival_rate)
    t = _check_nonnegative("time_in_service_s", time_in_service_s)
    u = _check_probability("max_utilisation", max_utilisation, low_open=True, high_open=True)
    busy = lam * t
    count = np.maximum(np.ceil(busy / u), 1.0)
    # ceil() can overshoot by one when busy/u lands just above a whole number by rounding
    fewer = np.maximum(count - 1.0, 1.0)
    count = np.where((count > 1.0) & (busy / fewer <= u), fewer, count).astype(np.int64)
    return int(count) if count.ndim == 0 else count
