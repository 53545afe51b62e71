"""Retry policies, retry budgets, circuit breakers and server-side admission control.

Every policy is a small immutable (frozen) dataclass that checks its parameters when it is
built and documents its rule. They are plain data: :mod:`outage_kit.simulation` reads them to
drive its request-level simulation, and a population model can read the same numbers
(``mean_delay_s`` per backoff stage).

Vocabulary
----------
A client sends **attempt** 1 of a request; if it fails (timed out or rejected) the client may
send **retry** number ``n`` (attempt ``n + 1``) after a delay chosen by a **backoff** rule.

Backoff rules: the delay before retry ``n = 1, 2, ...``, with ``u`` uniform on ``[0, 1)`` and
``t_n = min(cap_s, base_s * multiplier**(n - 1))``:

* :class:`FixedDelay`: ``delay_s`` (``FixedDelay(0.0)`` retries immediately).
* :class:`ExponentialBackoff`: ``t_n * (1 + jitter * (2u - 1))``, in ``[t_n (1 - jitter),
  t_n (1 + jitter)]``; ``jitter=0`` is capped exponential backoff without jitter.
* :class:`FullJitter`: ``u * t_n``, in ``[0, t_n]``.
* :class:`EqualJitter`: ``t_n / 2 + u * t_n / 2``, in ``[t_n / 2, t_n]``.
* :class:`DecorrelatedJitter`: ``s_n = min(cap_s, base_s + u * (3 s_{n-1} - base_s))`` with
  ``s_0 = base_s``, in ``[base_s, min(cap_s, base_s 3**n)]``.

:meth:`ExponentialBackoff.grpc` is gRPC's connection backoff. The three jitter rules are
those of the AWS Architecture Blog post "Exponential Backoff and Jitter" (M. Brooker, 2015).

Composite client policy: :class:`RetryPolicy` (backoff, maximum number of attempts, optional
:class:`RetryBudget` and :class:`CircuitBreaker`); :class:`NoRetry` gives up after one attempt.
Server side: :class:`ServerPolicy` with optional :class:`AdmissionControl`, dropping of
requests whose client has already timed out, and a queue-wait limit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AdmissionControl",
    "Backoff",
    "CircuitBreaker",
    "DecorrelatedJitter",
    "EqualJitter",
    "ExponentialBackoff",
    "FixedDelay",
    "FullJitter",
    "NoRetry",
    "RetryBudget",
    "RetryPolicy",
    "ServerPolicy",
]

#: Largest ``max_attempts`` accepted (the simulator reserves memory per possible attempt).
MAX_ATTEMPTS_LIMIT = 1000

# Integer codes shared with the simulation kernel (outage_kit._sim_kernel).
KIND_FIXED = 0
KIND_EXPONENTIAL = 1
KIND_FULL_JITTER = 2
KIND_EQUAL_JITTER = 3
KIND_DECORRELATED = 4


def _check_finite_nonnegative(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _retry_numbers(retry_numbers) -> np.ndarray:
    """Retry numbers as an int64 array, each >= 1."""
    n = np.asarray(retry_numbers)
    if n.size and not np.issubdtype(n.dtype, np.integer):
        if not np.all(np.equal(np.mod(n, 1), 0)):
            raise ValueError(f"retry numbers must be whole numbers >= 1, got {retry_numbers!r}")
    n = n.astype(np.int64)
    if n.size and n.min() < 1:
        raise ValueError(f"retry numbers start at 1 (the first retry), got {int(n.min())}")
    return n


class Backoff:
    """Base class of the backoff rules: the delay before retry number ``n`` (``n >= 1``).

    A subclass defines a deterministic map from a uniform draw ``u`` in ``[0, 1)`` to a delay
    (:meth:`delay_from_uniform_s`); :meth:`delays_s` draws ``u`` and applies it. The
    simulator applies the same map, compiled, to uniforms it pre-draws, so a policy's
    documented rule and the simulator's behaviour are one and the same (a test checks it).

    Every method takes retry numbers as an int or an array of ints (each >= 1) and returns a
    float array of the same shape.

    Examples
    --------
    >>> p = EqualJitter(base_s=1.0, cap_s=8.0)
    >>> p.scale_s([1, 2, 3, 4, 5])
    array([1., 2., 4., 8., 8.])
    >>> p.delay_from_uniform_s([0.0, 0.5], [3, 3])
    array([2., 3.])
    >>> d = p.delays_s([1, 2, 3], rng=7)
    >>> bool(np.all((p.min_delay_s([1, 2, 3]) <= d) & (d <= p.max_delay_s([1, 2, 3]))))
    True
    """

    # Subclasses implement these on validated int64 arrays.
    def _scale(self, n: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _from_uniform(self, u: np.ndarray, n: np.ndarray, prev: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _min(self, n: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _max(self, n: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _mean(self, n: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _kernel_params(self) -> tuple[int, float, float, float]:
        """(kind code, base_s, cap_s, jitter) for the simulation kernel."""
        raise NotImplementedError

    def scale_s(self, retry_numbers) -> np.ndarray:
        """The un-jittered delay ``t_n`` before each retry number (see the class docstring)."""
        n = _retry_numbers(retry_numbers)
        return _as_float_array(self._scale(n), n.shape)

    def delay_from_uniform_s(self, uniform, retry_numbers, previous_delay_s=None) -> np.ndarray:
        """The delay before each retry, given a uniform draw ``u`` in ``[0, 1)`` per element.

        Parameters
        ----------
        uniform : float or array_like
            Uniform draws on ``[0, 1)``.
        retry_numbers : int or array_like of int
            Retry numbers (>= 1), broadcast against ``uniform``.
        previous_delay_s : float or array_like, optional
            The request's previous delay; used by :class:`DecorrelatedJitter` only
            (default ``base_s``, right for the first retry).

        Returns
        -------
        numpy.ndarray
            Delays in seconds.
        """
        u = np.asarray(uniform, dtype=np.float64)
        if u.size and (u.min() < 0.0 or u.max() >= 1.0):
            raise ValueError("uniform draws must lie in [0, 1)")
        n = _retry_numbers(retry_numbers)
        shape = np.broadcast_shapes(u.shape, n.shape)
        prev = self._start_s() if previous_delay_s is None else previous_delay_s
        prev = np.broadcast_to(np.asarray(prev, dtype=np.float64), shape)
        u, n = np.broadcast_to(u, shape), np.broadcast_to(n, shape)
        return _as_float_array(self._from_uniform(u, n, prev), shape)

    def delays_s(self, retry_numbers, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw one delay per element of ``retry_numbers``, vectorised.

        Parameters
        ----------
        retry_numbers : int or array_like of int
            Which retry each delay is for (1 = the first retry, before attempt 2).
        rng : numpy.random.Generator or int or None
            Source of randomness; the same seed gives the same delays.

        Returns
        -------
        numpy.ndarray
            Delays in seconds, same shape as ``retry_numbers``.
        """
        n = _retry_numbers(retry_numbers)
        u = np.random.default_rng(rng).random(n.shape)
        return self.delay_from_uniform_s(u, n)

    def min_delay_s(self, retry_numbers) -> np.ndarray:
        """Smallest possible delay before each retry number."""
        n = _retry_numbers(retry_numbers)
        return _as_float_array(self._min(n), n.shape)

    def max_delay_s(self, retry_numbers) -> np.ndarray:
        """Largest possible delay before each retry number."""
        n = _retry_numbers(retry_numbers)
        return _as_float_array(self._max(n), n.shape)

    def mean_delay_s(self, retry_numbers) -> np.ndarray:
        """Expected delay before each retry number."""
        n = _retry_numbers(retry_numbers)
        return _as_float_array(self._mean(n), n.shape)

    def _start_s(self) -> float:
        return 0.0


def _as_float_array(values, shape) -> np.ndarray:
    return np.array(np.broadcast_to(np.asarray(values, dtype=np.float64), shape))


@dataclass(frozen=True)
class FixedDelay(Backoff):
    """Wait the same ``delay_s`` before every retry; ``FixedDelay(0.0)`` retries immediately.

    Rule: ``delay_n = delay_s``; bounds and mean ``delay_s``.

    Parameters
    ----------
    delay_s : float
        Delay before each retry, in seconds (>= 0).

    Examples
    --------
    >>> FixedDelay(0.5).delays_s([1, 2, 3], rng=0)
    array([0.5, 0.5, 0.5])
    >>> FixedDelay(0.0).max_delay_s(10)
    array(0.)
    """

    delay_s: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "delay_s", _check_finite_nonnegative("delay_s", self.delay_s))

    def _kernel_params(self):
        return KIND_FIXED, self.delay_s, self.delay_s, 0.0

    def _scale(self, n):
        return self.delay_s

    def _from_uniform(self, u, n, prev):
        return self.delay_s

    _min = _max = _mean = _scale


@dataclass(frozen=True)
class _Exponential(Backoff):
    """Shared growth rule ``t_n = min(cap_s, base_s * multiplier**(n - 1))``."""

    base_s: float = 0.1
    cap_s: float = 10.0
    multiplier: float = 2.0

    def __post_init__(self):
        base = _check_positive("base_s", self.base_s)
        cap = _check_positive("cap_s", self.cap_s)
        if cap < base:
            raise ValueError(f"cap_s ({cap!r}) must be >= base_s ({base!r})")
        multiplier = float(self.multiplier)
        if not math.isfinite(multiplier) or multiplier < 1:
            raise ValueError(f"multiplier must be a finite number >= 1, got {multiplier!r}")
        object.__setattr__(self, "base_s", base)
        object.__setattr__(self, "cap_s", cap)
        object.__setattr__(self, "multiplier", multiplier)

    def _scale(self, n):
        if self.multiplier == 1.0:
            return np.full(n.shape, self.base_s)
        # Past this exponent the cap binds: clip it so the power stays finite for any n.
        n_cap = math.ceil(math.log(self.cap_s / self.base_s) / math.log(self.multiplier)) + 1
        exponent = np.minimum(n - 1, n_cap).astype(np.float64)
        return np.minimum(self.cap_s, self.base_s * np.power(self.multiplier, exponent))


@dataclass(frozen=True)
class ExponentialBackoff(_Exponential):
    """Capped exponential backoff, optionally with proportional jitter (gRPC style).

    Rule: ``delay_n = t_n * (1 + jitter * (2u - 1))`` with ``t_n = min(cap_s, base_s *
    multiplier**(n - 1))`` and ``u`` uniform on ``[0, 1)``: uniform on ``t_n * [1 - jitter,
    1 + jitter)``, mean ``t_n``. ``jitter=0`` (the default) is capped exponential backoff
    without jitter: every client that failed at the same moment retries at the same moment.
    The jitter is applied after the cap (as gRPC does), so the largest delay is
    ``cap_s * (1 + jitter)``.

    Parameters
    ----------
    base_s : float
        Delay before the first retry (> 0).
    cap_s : float
        Largest un-jittered delay (>= base_s).
    multiplier : float
        Growth factor per retry (>= 1).
    jitter : float
        Relative half-width of the uniform jitter, in ``[0, 1)``.

    Examples
    --------
    >>> ExponentialBackoff(base_s=0.1, cap_s=1.0).delays_s([1, 2, 3, 4, 5], rng=0)
    array([0.1, 0.2, 0.4, 0.8, 1. ])
    >>> g = ExponentialBackoff.grpc()
    >>> g.min_delay_s([1, 2, 20]).round(2), g.max_delay_s([1, 2, 20]).round(2)
    (array([ 0.8 ,  1.28, 96.  ]), array([  1.2 ,   1.92, 144.  ]))
    >>> ExponentialBackoff(base_s=2.0, cap_s=1.0)
    Traceback (most recent call last):
    ...
    ValueError: cap_s (1.0) must be >= base_s (2.0)
    """

    jitter: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        jitter = float(self.jitter)
        if not (0.0 <= jitter < 1.0):
            raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
        object.__setattr__(self, "jitter", jitter)

    @classmethod
    def grpc(cls) -> ExponentialBackoff:
        """gRPC's connection backoff: initial 1 s, multiplier 1.6, max 120 s, jitter ±20%.

        From gRPC's "Connection Backoff Protocol" (doc/connection-backoff.md):
        ``INITIAL_BACKOFF = 1 s``, ``MULTIPLIER = 1.6``, ``MAX_BACKOFF = 120 s``,
        ``JITTER = 0.2``. (Its ``MIN_CONNECT_TIMEOUT`` is a connection deadline, not a
        delay, and is not modelled here.)

        Examples
        --------
        >>> ExponentialBackoff.grpc()
        ExponentialBackoff(base_s=1.0, cap_s=120.0, multiplier=1.6, jitter=0.2)
        """
        return cls(base_s=1.0, cap_s=120.0, multiplier=1.6, jitter=0.2)

    def _kernel_params(self):
        return KIND_EXPONENTIAL, self.base_s, self.cap_s, self.jitter

    # The kernel evaluates these same expressions, operation for operation.
    def _from_uniform(self, u, n, prev):
        return self._scale(n) * (1.0 + self.jitter * (2.0 * u - 1.0))

    def _min(self, n):
        return self._scale(n) * (1.0 + self.jitter * -1.0)

    def _max(self, n):
        return self._scale(n) * (1.0 + self.jitter * 1.0)

    def _mean(self, n):
        return self._scale(n)


@dataclass(frozen=True)
class FullJitter(_Exponential):
    """Full jitter: ``delay_n = u * t_n``, uniform on ``[0, t_n)``, mean ``t_n / 2``.

    ``t_n = min(cap_s, base_s * multiplier**(n - 1))``; with ``multiplier=2`` this is the AWS
    post's ``random_between(0, min(cap, base * 2**attempt))``.

    Parameters
    ----------
    base_s, cap_s, multiplier : float
        As for :class:`ExponentialBackoff` (``base_s > 0``, ``cap_s >= base_s``,
        ``multiplier >= 1``).

    Examples
    --------
    >>> p = FullJitter(base_s=0.1, cap_s=10.0)
    >>> p.max_delay_s([1, 2, 3]), p.mean_delay_s([1, 2, 3])
    (array([0.1, 0.2, 0.4]), array([0.05, 0.1 , 0.2 ]))
    >>> bool(np.all(p.delays_s(np.full(1000, 3), rng=1) < 0.4))
    True
    """

    def _kernel_params(self):
        return KIND_FULL_JITTER, self.base_s, self.cap_s, 0.0

    def _from_uniform(self, u, n, prev):
        return u * self._scale(n)

    def _min(self, n):
        return 0.0

    def _max(self, n):
        return self._scale(n)

    def _mean(self, n):
        return self._scale(n) / 2.0


@dataclass(frozen=True)
class EqualJitter(_Exponential):
    """Equal jitter: ``delay_n = t_n / 2 + u * t_n / 2``, uniform on ``[t_n / 2, t_n)``.

    Keeps half of the exponential delay and jitters the other half; mean ``3 t_n / 4``.

    Parameters
    ----------
    base_s, cap_s, multiplier : float
        As for :class:`ExponentialBackoff`.

    Examples
    --------
    >>> p = EqualJitter(base_s=1.0, cap_s=4.0)
    >>> p.min_delay_s([1, 2, 3, 4]), p.max_delay_s([1, 2, 3, 4])
    (array([0.5, 1. , 2. , 2. ]), array([1., 2., 4., 4.]))
    >>> p.mean_delay_s(1)
    array(0.75)
    """

    def _kernel_params(self):
        return KIND_EQUAL_JITTER, self.base_s, self.cap_s, 0.0

    def _from_uniform(self, u, n, prev):
        half = self._scale(n) / 2.0
        return half + u * half

    def _min(self, n):
        return self._scale(n) / 2.0

    def _max(self, n):
        half = self._scale(n) / 2.0
        return half + half

    def _mean(self, n):
        return 0.75 * self._scale(n)


@dataclass(frozen=True)
class DecorrelatedJitter(Backoff):
    """Decorrelated jitter: ``s_n = min(cap_s, random_between(base_s, 3 s_{n-1}))``.

    As defined in the AWS Architecture Blog post "Exponential Backoff and Jitter":
    ``sleep = min(cap, random_between(base, sleep * 3))``, starting from ``s_0 = base_s``.
    Here ``random_between(a, b) = a + u * (b - a)`` with ``u`` uniform on ``[0, 1)``.

    Each delay depends on the previous delay *of the same request*, so a delay is a function
    of ``(u, n, previous delay)``: :meth:`delay_from_uniform_s` takes the previous delay
    explicitly (default ``base_s``), and the simulator carries it per request. The vectorised
    :meth:`delays_s` returns, for each element with retry number ``n``, the ``n``-th delay of
    its own independent chain started at ``s_0 = base_s``, i.e. a draw from the marginal
    distribution of the ``n``-th delay (it uses ``max(n)`` uniforms per element).

    Bounds: ``base_s <= s_n <= min(cap_s, base_s * 3**n)``. While ``base_s * 3**n <= cap_s``
    the cap cannot bind and the mean is ``2 base_s (3/2)**n - base_s`` exactly; after that
    :meth:`mean_delay_s` computes it numerically (relative error < 1e-4).

    Parameters
    ----------
    base_s : float
        Smallest delay and the chain's start (> 0).
    cap_s : float
        Largest delay (>= base_s).

    Examples
    --------
    >>> p = DecorrelatedJitter(base_s=0.1, cap_s=2.0)
    >>> p.min_delay_s([1, 2, 3]), p.max_delay_s([1, 2, 3])
    (array([0.1, 0.1, 0.1]), array([0.3, 0.9, 2. ]))
    >>> p.mean_delay_s([1, 2]).round(3)  # 2 * 0.1 * 1.5**n - 0.1
    array([0.2 , 0.35])
    >>> p.delay_from_uniform_s([0.5], 2, previous_delay_s=0.2).round(3)  # 0.1 + 0.5 * 0.5
    array([0.35])
    """

    base_s: float = 0.1
    cap_s: float = 10.0

    def __post_init__(self):
        base = _check_positive("base_s", self.base_s)
        cap = _check_positive("cap_s", self.cap_s)
        if cap < base:
            raise ValueError(f"cap_s ({cap!r}) must be >= base_s ({base!r})")
        object.__setattr__(self, "base_s", base)
        object.__setattr__(self, "cap_s", cap)

    def _kernel_params(self):
        return KIND_DECORRELATED, self.base_s, self.cap_s, 0.0

    def _start_s(self):
        return self.base_s

    def _scale(self, n):
        return self.base_s

    def _from_uniform(self, u, n, prev):
        return np.minimum(self.cap_s, self.base_s + u * (3.0 * prev - self.base_s))

    def delays_s(self, retry_numbers, rng=None):
        """Draw the ``n``-th delay of an independent chain for each element (see class doc).

        Examples
        --------
        >>> d = DecorrelatedJitter(base_s=1.0, cap_s=100.0).delays_s(np.full(5, 2), rng=3)
        >>> bool(np.all((1.0 <= d) & (d <= 9.0)))
        True
        """
        n = _retry_numbers(retry_numbers)
        rng = np.random.default_rng(rng)
        delay = np.full(n.shape, self.base_s)
        out = np.full(n.shape, self.base_s)
        for step in range(1, int(n.max(initial=0)) + 1):
            delay = self._from_uniform(rng.random(n.shape), step, delay)
            out = np.where(n == step, delay, out)
        return out

    def _min(self, n):
        return self.base_s

    def _max(self, n):
        # min(cap_s, base_s * 3**n), evaluated with the draws' own operations (u -> 1), so the
        # bound holds exactly in floating point.
        bound = np.full(n.shape, self.base_s)
        out = bound.copy()
        for step in range(1, int(n.max(initial=0)) + 1):
            bound = np.minimum(self.cap_s, self.base_s + 1.0 * (3.0 * bound - self.base_s))
            out = np.where(n == step, bound, out)
        return out

    def _mean(self, n):
        means = _decorrelated_means(self.base_s, self.cap_s, int(n.max(initial=1)))
        return np.asarray(means)[n - 1]


@functools.lru_cache(maxsize=64)
def _decorrelated_means(base_s: float, cap_s: float, n_max: int) -> tuple[float, ...]:
    """Means of the decorrelated-jitter delays 1..n_max.

    In units of ``base_s`` (cap ``c = cap_s / base_s``): while ``3**n <= c`` the cap cannot
    bind and ``E[s_n] = 2 (3/2)**n - 1``. Otherwise ``E[s_n] = E[g(s_{n-1})]`` with the exact
    conditional mean ``g(x) = E[min(c, U(1, 3x))]``, and the distribution of ``s_{n-1}`` is
    carried on a log-spaced grid of 4,000 cells over ``[1, c]`` (each cell's mass placed at its
    geometric midpoint) plus point masses at 1 (``s_0``) and at ``c``. One step evaluates the
    next delay's CDF at the cell edges, ``F(y) = sum_j p_j min(1, (y - 1) / (3 x_j - 1))``,
    with prefix sums.
    """
    c = cap_s / base_s
    cells = 4000
    edges = np.exp(np.linspace(0.0, math.log(c), cells + 1))
    points = np.concatenate([[1.0], np.sqrt(edges[:-1] * edges[1:]), [c]])
    hi = 3.0 * points
    capped_mean = c - (c - 1.0) ** 2 / (2.0 * (hi - 1.0))
    conditional_mean = np.where(hi <= c, (1.0 + hi) / 2.0, capped_mean)
    # For each edge y, the points j >= first_above[y] have 3 x_j > y (partly below y).
    first_above = np.searchsorted(hi, edges, side="right")

    def step(prob):
        below = np.concatenate([[0.0], np.cumsum(prob)])[first_above]
        weight = prob / (hi - 1.0)
        suffix = np.concatenate([np.cumsum(weight[::-1])[::-1], [0.0]])[first_above]
        cdf = below + (edges - 1.0) * suffix
        return np.concatenate([[0.0], np.diff(cdf), [1.0 - cdf[-1]]])

    prob = np.zeros(points.size)
    prob[0] = 1.0  # s_0 = 1
    means = []
    for n in range(1, n_max + 1):
        exact = 3.0**n <= c
        means.append(2.0 * 1.5**n - 1.0 if exact else float(prob @ conditional_mean))
        prob = step(prob)
    return tuple(base_s * m for m in means)


@dataclass(frozen=True)
class RetryBudget:
    """A retry budget: a token bucket shared by all clients of the simulated service.

    Rule: the bucket starts with ``initial_tokens`` (default: full, ``max_tokens``). Every
    successful attempt deposits ``deposit_per_success`` tokens (up to ``max_tokens``). A retry
    is allowed only if the bucket holds at least ``cost_per_retry`` tokens, which it then
    withdraws; otherwise the request gives up. In the long run retries are at most
    ``deposit_per_success / cost_per_retry`` per success (10% by default), plus the initial
    tokens. Modelled on Finagle's ``RetryBudget`` and gRPC's retry throttling.

    Parameters
    ----------
    deposit_per_success : float
        Tokens added per success (>= 0).
    cost_per_retry : float
        Tokens a retry costs (> 0).
    max_tokens : float
        Bucket size (>= cost_per_retry).
    initial_tokens : float or None
        Starting tokens in ``[0, max_tokens]``; None means full.

    Examples
    --------
    >>> b = RetryBudget(deposit_per_success=0.1, cost_per_retry=1.0, max_tokens=10.0)
    >>> b.retries_per_success, b.start_tokens
    (0.1, 10.0)
    """

    deposit_per_success: float = 0.1
    cost_per_retry: float = 1.0
    max_tokens: float = 10.0
    initial_tokens: float | None = None

    def __post_init__(self):
        deposit = _check_finite_nonnegative("deposit_per_success", self.deposit_per_success)
        cost = _check_positive("cost_per_retry", self.cost_per_retry)
        max_tokens = _check_positive("max_tokens", self.max_tokens)
        if max_tokens < cost:
            raise ValueError(
                f"max_tokens ({max_tokens!r}) must be >= cost_per_retry ({cost!r}), "
                "or no retry could ever be afforded"
            )
        if self.initial_tokens is not None:
            initial = _check_finite_nonnegative("initial_tokens", self.initial_tokens)
            if initial > max_tokens:
                raise ValueError(f"initial_tokens ({initial!r}) must be <= max_tokens")
            object.__setattr__(self, "initial_tokens", initial)
        object.__setattr__(self, "deposit_per_success", deposit)
        object.__setattr__(self, "cost_per_retry", cost)
        object.__setattr__(self, "max_tokens", max_tokens)

    @property
    def retries_per_success(self) -> float:
        """Long-run ceiling on retries per successful attempt."""
        return self.deposit_per_success / self.cost_per_retry

    @property
    def start_tokens(self) -> float:
        """Tokens in the bucket at time 0."""
        return self.max_tokens if self.initial_tokens is None else self.initial_tokens


@dataclass(frozen=True)
class CircuitBreaker:
    """A client-side circuit breaker shared by all clients (consecutive-failure rule).

    Rule: a failure is an attempt that timed out or was rejected; a success is a response
    within the timeout. After ``failure_threshold`` consecutive failures the breaker *opens*:
    for ``open_s`` seconds every attempt (first or retry) fails at once without reaching the
    server, and its request gives up. When ``open_s`` has passed since the last failure
    report, traffic flows again (*half-open*): the first success closes the breaker fully
    (count back to 0), the first failure re-opens it for another ``open_s``. (Failures of
    attempts sent before the breaker opened, reported while it is open, also restart the
    ``open_s`` clock.)

    Parameters
    ----------
    failure_threshold : int
        Consecutive failures that open the breaker (>= 1).
    open_s : float
        How long the breaker stays open (> 0).

    Examples
    --------
    >>> CircuitBreaker(failure_threshold=5, open_s=2.0)
    CircuitBreaker(failure_threshold=5, open_s=2.0)
    """

    failure_threshold: int = 5
    open_s: float = 1.0

    def __post_init__(self):
        if int(self.failure_threshold) != self.failure_threshold or self.failure_threshold < 1:
            raise ValueError(
                f"failure_threshold must be a whole number >= 1, got {self.failure_threshold!r}"
            )
        object.__setattr__(self, "failure_threshold", int(self.failure_threshold))
        object.__setattr__(self, "open_s", _check_positive("open_s", self.open_s))


@dataclass(frozen=True)
class RetryPolicy:
    """A client's retry behaviour: backoff rule, attempt limit, optional budget and breaker.

    Rule: when attempt ``k`` of a request fails (times out or is rejected), the client sends
    attempt ``k + 1`` after ``backoff``'s delay for retry number ``k``, unless ``k`` equals
    ``max_attempts`` or the budget cannot pay; then the request has failed. While the circuit
    breaker is open no attempt is sent.

    Parameters
    ----------
    backoff : Backoff
        Delay rule (default ``FixedDelay(0.0)``: immediate retry).
    max_attempts : int
        Attempts per request including the first (1 to 1000).
    budget : RetryBudget or None
        Shared retry budget.
    circuit_breaker : CircuitBreaker or None
        Shared circuit breaker.

    Examples
    --------
    >>> p = RetryPolicy(FullJitter(base_s=0.1, cap_s=5.0), max_attempts=4)
    >>> p.max_retries
    3
    >>> RetryPolicy(max_attempts=0)
    Traceback (most recent call last):
    ...
    ValueError: max_attempts must be a whole number from 1 to 1000, got 0
    """

    backoff: Backoff = field(default_factory=lambda: FixedDelay(0.0))
    max_attempts: int = 3
    budget: RetryBudget | None = None
    circuit_breaker: CircuitBreaker | None = None

    def __post_init__(self):
        m = self.max_attempts
        if isinstance(m, bool) or int(m) != m or not (1 <= m <= MAX_ATTEMPTS_LIMIT):
            raise ValueError(
                f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS_LIMIT}, got {m!r}"
            )
        object.__setattr__(self, "max_attempts", int(m))
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff (e.g. FullJitter), got {self.backoff!r}")
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise TypeError(f"budget must be a RetryBudget or None, got {self.budget!r}")
        if self.circuit_breaker is not None and not isinstance(
            self.circuit_breaker, CircuitBreaker
        ):
            raise TypeError(
                f"circuit_breaker must be a CircuitBreaker or None, got {self.circuit_breaker!r}"
            )

    @property
    def max_retries(self) -> int:
        """Retries per request at most (``max_attempts - 1``)."""
        return self.max_attempts - 1


@dataclass(frozen=True)
class NoRetry(RetryPolicy):
    """Never retry: a request that fails on its first attempt has failed.

    Examples
    --------
    >>> NoRetry()
    NoRetry()
    >>> NoRetry().max_attempts
    1
    """

    backoff: Backoff = field(default=FixedDelay(0.0), init=False, repr=False)
    max_attempts: int = field(default=1, init=False, repr=False)
    budget: RetryBudget | None = field(default=None, init=False, repr=False)
    circuit_breaker: CircuitBreaker | None = field(default=None, init=False, repr=False)


@dataclass(frozen=True)
class AdmissionControl:
    """Server-side admission control: reject fast beyond a rate or a queue length.

    Rule: an arriving attempt is rejected at once (costing the server nothing) if

    * ``rate_per_s`` is set and a token bucket refilled at ``rate_per_s`` (holding at most
      ``burst`` tokens, full at time 0) has less than one token; an admitted attempt takes
      one token. Long-run admitted rate <= ``rate_per_s``.
    * ``max_queue_length`` is set, every worker is busy and ``max_queue_length`` attempts are
      already waiting.

    Parameters
    ----------
    rate_per_s : float or None
        Admitted attempts per second at most (> 0).
    burst : float
        Token-bucket size (>= 1).
    max_queue_length : int or None
        Waiting attempts at most (>= 0).

    Examples
    --------
    >>> AdmissionControl(rate_per_s=100.0, burst=10.0)
    AdmissionControl(rate_per_s=100.0, burst=10.0, max_queue_length=None)
    >>> AdmissionControl(rate_per_s=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: rate_per_s must be a finite number > 0, got -1.0
    """

    rate_per_s: float | None = None
    burst: float = 1.0
    max_queue_length: int | None = None

    def __post_init__(self):
        if self.rate_per_s is not None:
            object.__setattr__(self, "rate_per_s", _check_positive("rate_per_s", self.rate_per_s))
        burst = _check_positive("burst", self.burst)
        if burst < 1:
            raise ValueError(f"burst must be >= 1 (one request's token), got {burst!r}")
        object.__setattr__(self, "burst", burst)
        q = self.max_queue_length
        if q is not None:
            if isinstance(q, bool) or int(q) != q or q < 0:
                raise ValueError(f"max_queue_length must be a whole number >= 0, got {q!r}")
            object.__setattr__(self, "max_queue_length", int(q))


@dataclass(frozen=True)
class ServerPolicy:
    """What the server does with load: admission control and dropping stale requests.

    Parameters
    ----------
    admission : AdmissionControl or None
        Fast rejection beyond a rate or queue length.
    drop_expired : bool
        If True, when a worker is about to start an attempt whose client has already timed
        out (``now >= arrival + timeout``), the server discards it instead of doing the
        (wasted, "zombie") work.
    max_wait_s : float or None
        A server-side queue timeout (> 0): when a worker is about to start an attempt that has
        waited ``max_wait_s`` or longer (``now >= arrival + max_wait_s``), the server discards
        it. Set below the client timeout, it sheds work that could no longer finish in time,
        not only work that is already too late. The client is not told: it times out as
        usual. None: no limit.

    Examples
    --------
    >>> ServerPolicy(drop_expired=True)
    ServerPolicy(admission=None, drop_expired=True, max_wait_s=None)
    >>> ServerPolicy(drop_expired=True).drop_wait_s(timeout_s=3.0)
    3.0
    >>> ServerPolicy(max_wait_s=0.2).drop_wait_s(timeout_s=3.0)
    0.2
    >>> ServerPolicy().drop_wait_s(timeout_s=3.0)
    inf
    """

    admission: AdmissionControl | None = None
    drop_expired: bool = False
    max_wait_s: float | None = None

    def __post_init__(self):
        if self.admission is not None and not isinstance(self.admission, AdmissionControl):
            raise TypeError(
                f"admission must be an AdmissionControl or None, got {self.admission!r}"
            )
        object.__setattr__(self, "drop_expired", bool(self.drop_expired))
        if self.max_wait_s is not None:
            object.__setattr__(self, "max_wait_s", _check_positive("max_wait_s", self.max_wait_s))

    def drop_wait_s(self, timeout_s: float | None) -> float:
        """The queue wait from which a worker discards an attempt (``inf``: never).

        The smaller of ``max_wait_s`` and, with ``drop_expired``, the client timeout
        ``timeout_s`` (None or ``inf``: clients never time out).
        """
        limit = math.inf if self.max_wait_s is None else self.max_wait_s
        if self.drop_expired and timeout_s is not None:
            limit = min(limit, float(timeout_s))
        return limit
