"""Clients contending for one record: what backoff and jitter buy when everybody retries.

This is the experiment of the AWS Architecture Blog post "Exponential Backoff and Jitter"
(M. Brooker, 2015), rebuilt on the kit's backoff rules (:mod:`outage_kit.policies`).

The model
---------
* A server holds one record with a version number.
* ``clients`` clients each want to update the record exactly once, with optimistic
  concurrency control: the client reads the version, then writes, sending the version it
  read. The write succeeds if the version is unchanged (and the server then increments
  it); otherwise it fails, because another client's write got in between.
* A client whose write failed waits for its backoff rule's delay before retry number
  ``k = 1, 2, ...`` and starts again with a read.
* Every message (read request, read response, write request, write response) takes an
  independent network delay ``|N(network_mean_s, network_sd_s)|``; the server handles each
  message the moment it arrives. All clients start at time 0.

Measured per run (as the post does): **calls**, the number of writes the server handled (one
per attempt), and the **completion time**, when the last client learns that its write
succeeded.

Randomness
----------
Run ``r`` of every call with the same ``seed`` and number of clients uses the same random
numbers, whatever the backoff rule: the rules are compared on common random numbers. Each
run draws its network delays and its backoff uniforms from two streams spawned from
``numpy.random.SeedSequence(seed)``, attempt by attempt, so the result does not depend on
how many attempts' worth of numbers are drawn in advance.

The event loop is plain Python, compiled with numba when it is installed (see
:mod:`outage_kit.simulation`); results are identical either way.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from outage_kit import _sim_kernel
from outage_kit.policies import (
    Backoff,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FixedDelay,
    FullJitter,
)

__all__ = ["ContentionResult", "aws_backoff_rules", "occ_contention"]

#: The AWS post's network delay: mean 10 ms, standard deviation 2 ms (its simulator's values).
AWS_NETWORK_MEAN_S = 0.010
AWS_NETWORK_SD_S = 0.002
#: The AWS post's backoff parameters: base 5 ms, cap 2 s.
AWS_BASE_S = 0.005
AWS_CAP_S = 2.0

_FIRST_ALLOCATION = 16  # attempts per client drawn in advance; doubled when a run needs more
MAX_ATTEMPTS_PER_CLIENT = 1 << 16

_READ = 0
_WRITE = 1


def aws_backoff_rules(base_s: float = AWS_BASE_S, cap_s: float = AWS_CAP_S) -> dict[str, Backoff]:
    """The backoff rules the AWS post compares, as the kit's :class:`~outage_kit.policies.Backoff`.

    The post's exponential rules wait ``min(cap, base * 2**k)`` (with jitter applied to it)
    before retry ``k = 1, 2, ...``, so their first retry waits up to ``2 * base``: the kit's
    rules, whose first retry waits up to ``base_s``, get ``base_s = 2 * base``. Decorrelated
    jitter starts its chain at ``base`` in both.

    Returns
    -------
    dict
        ``"no backoff"``, ``"exponential, no jitter"``, ``"equal jitter"``, ``"full jitter"``,
        ``"decorrelated jitter"``.

    Examples
    --------
    >>> rules = aws_backoff_rules()
    >>> rules["full jitter"].max_delay_s([1, 2, 3])
    array([0.01, 0.02, 0.04])
    >>> rules["decorrelated jitter"]
    DecorrelatedJitter(base_s=0.005, cap_s=2.0)
    """
    return {
        "no backoff": FixedDelay(0.0),
        "exponential, no jitter": ExponentialBackoff(base_s=2 * base_s, cap_s=cap_s),
        "equal jitter": EqualJitter(base_s=2 * base_s, cap_s=cap_s),
        "full jitter": FullJitter(base_s=2 * base_s, cap_s=cap_s),
        "decorrelated jitter": DecorrelatedJitter(base_s=base_s, cap_s=cap_s),
    }


@dataclass(frozen=True)
class ContentionResult:
    """Per-run outcomes of :func:`occ_contention`.

    Attributes
    ----------
    clients, runs : int
        Clients per run and number of runs.
    calls : numpy.ndarray
        Writes handled by the server in each run (one per attempt).
    completion_s : numpy.ndarray
        Time at which the last client of each run learned of its success.
    max_attempts : numpy.ndarray
        The most attempts any one client needed, per run.
    """

    clients: int
    runs: int
    calls: np.ndarray
    completion_s: np.ndarray
    max_attempts: np.ndarray

    @property
    def mean_calls(self) -> float:
        """Mean number of writes per run."""
        return float(self.calls.mean())

    @property
    def mean_completion_s(self) -> float:
        """Mean completion time per run (seconds)."""
        return float(self.completion_s.mean())

    @property
    def calls_per_client(self) -> float:
        """Mean writes per client: 1 would mean no conflict at all."""
        return self.mean_calls / self.clients


def _occ_kernel(net_s, backoff_s, n_clients, n_attempts, read_version, attempt, done_s):
    """Event loop of one run. Returns the number of writes, or -1 if a client needed more
    than ``n_attempts`` attempts (the caller then draws more numbers and runs again).

    ``net_s[(k * n_clients + i) * 4 + j]`` is message ``j`` (read request, read response,
    write request, write response) of attempt ``k`` of client ``i``; ``backoff_s[k * n_clients
    + i]`` the delay after attempt ``k`` fails. Only server events are simulated: a client's
    own steps touch no shared state, so they fold into the delays between server events.
    """
    heap = [(0.0, 0)]
    heap.pop()
    for i in range(n_clients):
        heapq.heappush(heap, (net_s[i * 4], i * 2 + _READ))
    version = 0
    calls = 0
    while len(heap) > 0:
        now, key = heapq.heappop(heap)
        i = key // 2
        k = attempt[i]
        base = (k * n_clients + i) * 4
        if key - i * 2 == _READ:
            read_version[i] = version
            heapq.heappush(heap, (now + net_s[base + 1] + net_s[base + 2], i * 2 + _WRITE))
            continue
        calls += 1
        if read_version[i] == version:
            version += 1
            done_s[i] = now + net_s[base + 3]
            continue
        if k + 1 >= n_attempts:
            return -1
        attempt[i] = k + 1
        retry_at = now + net_s[base + 3] + backoff_s[k * n_clients + i]
        heapq.heappush(heap, (retry_at + net_s[base + 4 * n_clients], i * 2 + _READ))
    return calls


_COMPILED: dict[str, object] = {}


def _kernel(use_numba: bool):
    if not use_numba:
        return _occ_kernel
    if "occ" not in _COMPILED:
        from numba import njit

        _COMPILED["occ"] = njit(cache=True)(_occ_kernel)
    return _COMPILED["occ"]


def _backoff_table(backoff: Backoff, uniforms: np.ndarray) -> np.ndarray:
    """Delays after attempt k fails (row k = retry number k + 1), chained for decorrelated."""
    delays = np.zeros_like(uniforms)
    previous = None
    for k in range(uniforms.shape[0] - 1):
        previous = backoff.delay_from_uniform_s(uniforms[k], k + 1, previous)
        delays[k] = previous
    return delays


def _one_run(clients, backoff, seeds, mean_s, sd_s, use_numba):
    net_rng, backoff_rng = (np.random.default_rng(s) for s in seeds)
    kernel = _kernel(use_numba)
    net = np.empty((0, clients, 4))
    uniforms = np.empty((0, clients))
    n_attempts = _FIRST_ALLOCATION
    while True:
        more = n_attempts - net.shape[0]
        # Attempt-major draws: drawing more later extends the same sequence.
        net = np.concatenate([net, np.abs(net_rng.normal(mean_s, sd_s, (more, clients, 4)))])
        uniforms = np.concatenate([uniforms, backoff_rng.random((more, clients))])
        delays = _backoff_table(backoff, uniforms)
        read_version = np.zeros(clients, dtype=np.int64)
        attempt = np.zeros(clients, dtype=np.int64)
        done = np.full(clients, np.nan)
        args = [net.reshape(-1), delays.reshape(-1), clients, n_attempts]
        if use_numba:
            calls = kernel(*args, read_version, attempt, done)
        else:
            py = [a.tolist() for a in (read_version, attempt, done)]
            calls = kernel(args[0].tolist(), args[1].tolist(), clients, n_attempts, *py)
            attempt, done = np.array(py[1], dtype=np.int64), np.array(py[2])
        if calls >= 0:
            return calls, float(done.max()), int(attempt.max()) + 1
        if n_attempts >= MAX_ATTEMPTS_PER_CLIENT:
            raise RuntimeError(
                f"a client needed more than {MAX_ATTEMPTS_PER_CLIENT} attempts; "
                "the backoff rule does not resolve the contention"
            )
        n_attempts *= 2


def occ_contention(
    clients: int,
    backoff: Backoff,
    *,
    runs: int = 100,
    network_mean_s: float = AWS_NETWORK_MEAN_S,
    network_sd_s: float = AWS_NETWORK_SD_S,
    seed: int | None = 0,
    use_numba: bool | None = None,
) -> ContentionResult:
    """Simulate ``clients`` clients updating one record with optimistic concurrency.

    See the module docstring for the model.

    Parameters
    ----------
    clients : int
        Clients contending (>= 1), all starting at time 0.
    backoff : Backoff
        The rule for the delay before each retry (e.g. from :func:`aws_backoff_rules`).
    runs : int
        Independent repetitions (>= 1).
    network_mean_s, network_sd_s : float
        Mean (> 0) and standard deviation (>= 0) of one network delay; the delay is the
        absolute value of a normal draw.
    seed : int or None
        Seed of the common random numbers (see the module docstring).
    use_numba : bool or None
        Compile the event loop with numba (None: when it is available).

    Returns
    -------
    ContentionResult

    Examples
    --------
    One client never conflicts: one write, done after four network delays.

    >>> r = occ_contention(1, FullJitter(0.01, 2.0), runs=3, network_sd_s=0.0)
    >>> r.calls.tolist(), r.completion_s.round(3).tolist()
    ([1, 1, 1], [0.04, 0.04, 0.04])

    Ten clients: every client writes at least once and one write succeeds per version.

    >>> rules = aws_backoff_rules()
    >>> r = occ_contention(10, rules["full jitter"], runs=20, seed=1)
    >>> bool(r.calls.min() >= 10), r.runs
    (True, 20)
    """
    if isinstance(clients, bool) or int(clients) != clients or clients < 1:
        raise ValueError(f"clients must be a whole number >= 1, got {clients!r}")
    if isinstance(runs, bool) or int(runs) != runs or runs < 1:
        raise ValueError(f"runs must be a whole number >= 1, got {runs!r}")
    if not isinstance(backoff, Backoff):
        raise TypeError(f"backoff must be a Backoff (e.g. FullJitter), got {backoff!r}")
    mean_s = float(network_mean_s)
    sd_s = float(network_sd_s)
    if not math.isfinite(mean_s) or mean_s <= 0:
        raise ValueError(f"network_mean_s must be a finite time > 0 seconds, got {mean_s!r}")
    if not math.isfinite(sd_s) or sd_s < 0:
        raise ValueError(f"network_sd_s must be a finite number >= 0 seconds, got {sd_s!r}")
    if use_numba is None:
        use_numba = _sim_kernel.numba_available()
    elif use_numba and not _sim_kernel.numba_available():
        raise ImportError("use_numba=True but numba is not installed (or is disabled)")
    clients, runs = int(clients), int(runs)
    run_seeds = np.random.SeedSequence(seed).spawn(runs)
    calls = np.empty(runs, dtype=np.int64)
    completion = np.empty(runs)
    most = np.empty(runs, dtype=np.int64)
    for r, run_seed in enumerate(run_seeds):
        calls[r], completion[r], most[r] = _one_run(
            clients, backoff, run_seed.spawn(2), mean_s, sd_s, use_numba
        )
    return ContentionResult(clients, runs, calls, completion, most)
